// The client's RoomCall, with werift's RTCPeerConnection standing in for the
// browser's: a mesh call between two members of a room, renegotiation with both sides
// offering at once (perfect negotiation), a reconnect, and a data channel to the
// server's peer that joins the room like any connection.
import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient, RoomCall, type CallPeer } from '../../../lib/client/index.js';
import type { RealtimeModuleOptions } from '../../../lib/index.js';
import type { TestApp } from '../../support/app.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { LOOPBACK_WEBRTC, loopbackOnly } from '../../support/webrtc.js';

const OPTIONS: RealtimeModuleOptions = {
  authenticate: userFromQuery,
  webrtc: { ...LOOPBACK_WEBRTC },
};

/** werift's peer connection where the browser's would be, offering loopback. */
class LoopbackPeerConnection extends RTCPeerConnection {
  constructor(config: object = {}) {
    super({ ...config, iceAdditionalHostAddresses: ['127.0.0.1'] });
  }
}
const Browserish = LoopbackPeerConnection as unknown as typeof globalThis.RTCPeerConnection;

/** Messages a data channel receives, as text. */
function messagesOf(channel: RTCDataChannel): string[] {
  const messages: string[] = [];
  channel.onMessage.subscribe((data) => messages.push(data.toString()));
  return messages;
}

const channelOf = (peer: CallPeer) =>
  (peer.pc as unknown as RTCPeerConnection).onDataChannel.asPromise().then(([c]) => c);

describe.runIf(loopbackOnly())('RoomCall (the client)', () => {
  const harness = withHarness();
  const member = async (app: TestApp, user: string, room = 'call') => {
    const client = new RealtimeClient(`${app.wsUrl}?user=${user}`, {
      WebSocket,
      reconnect: { initialDelay: 20, maxDelay: 100 },
    });
    harness.defer(() => client.close());
    await client.subscribe(room).ready;
    const call = new RoomCall(client, room, { RTCPeerConnection: Browserish });
    harness.defer(() => call.leave());
    return { client, call };
  };

  it('connects two members peer to peer, and renegotiates when both add a channel at once', async () => {
    const app = await harness.start(OPTIONS);
    const alice = await member(app, 'alice');
    const bob = await member(app, 'bob');
    const alicePeers: CallPeer[] = [];
    const bobPeers: CallPeer[] = [];
    alice.call.onPeer((peer) => {
      alicePeers.push(peer);
      (peer.pc as unknown as RTCPeerConnection).createDataChannel('from-alice');
    });
    bob.call.onPeer((peer) => bobPeers.push(peer));
    await alice.call.join();
    await bob.call.join();
    await until(() => bobPeers.length === 1 && alicePeers.length === 1, 5_000);
    const bobSide = bobPeers[0]!;
    expect(bobSide).toMatchObject({ id: (await alice.client.ready).connectionId, userId: 'alice' });
    const fromAlice = await channelOf(bobSide);
    expect(fromAlice.label).toBe('from-alice');
    const heard = messagesOf(fromAlice);

    // Both sides add a channel at the same moment: two offers cross; the newcomer
    // (bob) yields, and both channels open.
    const alicePc = alicePeers[0]!.pc as unknown as RTCPeerConnection;
    const bobPc = bobSide.pc as unknown as RTCPeerConnection;
    const fromBobOnAlice = alicePc.onDataChannel.watch((c) => c.label === 'second-b', 10_000);
    const fromAliceOnBob = bobPc.onDataChannel.watch((c) => c.label === 'second-a', 10_000);
    const a2 = alicePc.createDataChannel('second-a');
    const b2 = bobPc.createDataChannel('second-b');
    const [[onAlice], [onBob]] = await Promise.all([fromBobOnAlice, fromAliceOnBob]);
    const aliceHeard = messagesOf(onAlice);
    const bobHeard = messagesOf(onBob);
    await until(() => a2.readyState === 'open' && b2.readyState === 'open', 10_000);
    a2.send('a2');
    b2.send('b2');
    await until(() => aliceHeard.length === 1 && bobHeard.length === 1, 5_000);
    expect([aliceHeard, bobHeard]).toEqual([['b2'], ['a2']]);
    expect(heard).toEqual([]);

    // Bob leaves: alice's side of him closes.
    const left: string[] = [];
    alice.call.onPeerLeft((peer) => left.push(peer.id));
    await bob.call.leave();
    await until(() => left.length === 1, 5_000);
    expect(alice.call.connections.size).toBe(0);
  }, 30_000);

  it('joins the call again after a reconnect, as a new peer the others connect to', async () => {
    const app = await harness.start(OPTIONS);
    const alice = await member(app, 'alice');
    const bob = await member(app, 'bob');
    const bobPeers: CallPeer[] = [];
    alice.call.onPeer((peer) => (peer.pc as unknown as RTCPeerConnection).createDataChannel('x'));
    bob.call.onPeer((peer) => bobPeers.push(peer));
    await alice.call.join();
    await bob.call.join();
    await until(() => bobPeers.length === 1, 5_000);
    // Bob's socket drops: his client reconnects with a new connection and joins again.
    app.hub.connections.get((await bob.client.ready).connectionId)!.close(1001, 'restarting');
    await until(() => bobPeers.length === 2, 10_000);
    expect(bob.call.connections.size).toBe(1);
    const again = await channelOf(bobPeers[1]!);
    expect(again.label).toBe('x');
  }, 20_000);

  it("opens a data channel to the server's peer that joins the room and hears its messages", async () => {
    const app = await harness.start(OPTIONS);
    const { client, call } = await member(app, 'dora', 'game');
    const pc = (await call.connectServer()) as unknown as RTCPeerConnection;
    const channel = pc.createDataChannel('rt');
    const messages = messagesOf(channel);
    await until(() => channel.readyState === 'open', 10_000);
    channel.send(JSON.stringify({ event: 'rt:join', data: { room: 'game' }, id: 1 }));
    await until(() => messages.some((m) => JSON.parse(m).id === 1), 5_000);
    await client.publish('game', 'news', 'over the channel');
    await until(() => messages.some((m) => JSON.parse(m).event === 'news'), 5_000);
    expect(JSON.parse(messages.find((m) => JSON.parse(m).event === 'news')!)).toMatchObject({
      data: 'over the channel',
      room: 'game',
    });
  }, 20_000);
});
