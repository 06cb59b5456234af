// The client's RoomCall, with werift's RTCPeerConnection standing in for the
// browser's: a mesh call between two members of a room, renegotiation with both sides
// offering at once (perfect negotiation), a reconnect, and a data channel to the
// server's peer that joins the room like any connection.
import { describe, expect, it, vi } from 'vitest';
import { RTCPeerConnection, type RTCDataChannel } from 'werift';
import { WebSocket } from 'ws';
import { RealtimeClient, RoomCall, type CallPeer } from '../../../lib/client/index.js';
import type { RealtimeModuleOptions } from '../../../lib/index.js';
import { WebRtcSignalingService } from '../../../lib/index.js';
import type { TestApp } from '../../support/app.js';
import { join, until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { LOOPBACK_WEBRTC, SignalingPeer, loopbackOnly } from '../../support/webrtc.js';
import type { Frame, TestClient } from '../../support/ws-client.js';

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

const peersOf = (app: TestApp) => app.app.get(WebRtcSignalingService).serverPeerCount;

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves true once `check` holds, false if it does not within `timeout`. */
const holds = (check: () => boolean, timeout: number): Promise<boolean> =>
  until(check, timeout).then(
    () => true,
    () => false,
  );

/** The rt:peer-joined / rt:peer-left events a client heard about one peer. */
const callEventsAbout = (client: TestClient, peerId: string): string[] =>
  client.frames
    .filter((f: Frame) => f.event.startsWith('rt:peer-') && f.data?.peer?.id === peerId)
    .map((f) => f.event);

const isAnswerSignal = (f: Frame) =>
  f.event === 'rt:signal' && f.data?.description?.type === 'answer';

describe('regressions', () => {
  /** The configurations RoomCalls made their peer connections with, in order. */
  const configs: { iceServers?: unknown[] }[] = [];

  /** werift's peer connection where the browser's would be, offering loopback only. */
  class RecordingPeerConnection extends RTCPeerConnection {
    constructor(config: { iceServers?: unknown[] } = {}) {
      configs.push(config);
      // What the call asked for is recorded; the connection itself asks no server.
      super({ ...config, iceServers: [], iceAdditionalHostAddresses: ['127.0.0.1'] });
    }
  }
  const RecordingBrowserish =
    RecordingPeerConnection as unknown as typeof globalThis.RTCPeerConnection;

  describe.runIf(loopbackOnly())('RoomCall', () => {
    const harness = withHarness();

    const realtimeClient = async (app: TestApp, user: string, room: string) => {
      const client = new RealtimeClient(`${app.wsUrl}?user=${user}`, {
        WebSocket,
        reconnect: { initialDelay: 20, maxDelay: 100 },
      });
      harness.defer(() => client.close());
      await client.subscribe(room).ready;
      return client;
    };

    const roomCall = (client: RealtimeClient, room: string, iceServers?: RTCIceServer[]) => {
      const call = new RoomCall(client, room, {
        RTCPeerConnection: RecordingBrowserish,
        ...(iceServers && { iceServers }),
      });
      harness.defer(() => call.leave());
      return call;
    };

    // room-call.ts leave()/drop("server") closes only the client's side; nothing tells
    // the server (rt:peer-leave does not close server peers, and werift does not notice
    // the other side going). The server peer stays for as long as the client is in the
    // room, and the next connectServer()'s offer is applied to that stale peer: it
    // never connects.
    it('RoomCall.leave() closes the server peer, and connectServer() works again', async () => {
      const app = await harness.start(OPTIONS);
      const client = await realtimeClient(app, 'al', 'call');
      const first = roomCall(client, 'call', []);
      const pc1 = (await first.connectServer()) as unknown as RTCPeerConnection;
      pc1.createDataChannel('rt');
      expect(await holds(() => pc1.connectionState === 'connected', 5_000)).toBe(true);
      await first.leave();
      const serverPeerClosed = await holds(() => peersOf(app) === 0, 3_000);

      const second = roomCall(client, 'call', []);
      const pc2 = (await second.connectServer()) as unknown as RTCPeerConnection;
      pc2.createDataChannel('rt');
      const connectedAgain = await holds(() => pc2.connectionState === 'connected', 5_000);
      expect({ serverPeerClosed, connectedAgain }).toEqual({
        serverPeerClosed: true,
        connectedAgain: true,
      });
    }, 30_000);

    // room-call.ts join(): `joined` is set before the requests; when rt:peer-join is
    // refused (here NOT_IN_ROOM, the room not joined yet) it stays set, and every later
    // join() resolves at once without joining.
    it('RoomCall.join() after a refused join joins the call', async () => {
      const app = await harness.start(OPTIONS);
      const observer = await harness.connect(`${app.wsUrl}?user=obs`);
      await join(observer, 'call');
      await observer.request('rt:peer-join', { room: 'call' });

      const client = new RealtimeClient(`${app.wsUrl}?user=al`, { WebSocket });
      harness.defer(() => client.close());
      const call = roomCall(client, 'call', []);
      const { connectionId } = await client.ready;
      await expect(call.join()).rejects.toMatchObject({ code: 'NOT_IN_ROOM' });
      await client.subscribe('call').ready;
      await call.join();
      expect(await holds(() => callEventsAbout(observer, connectionId).length > 0, 2_000)).toBe(
        true,
      );
      expect(callEventsAbout(observer, connectionId)).toEqual(['rt:peer-joined']);
    });

    // room-call.ts leave() while join() waits for rt:ice: leave() sends rt:peer-leave
    // (false: not in the call yet) and stops listening, then join() goes on and sends
    // rt:peer-join. The server keeps the client in the call, the others connect to it,
    // and nothing on the client answers them.
    it('RoomCall.leave() during join() leaves the client out of the call', async () => {
      const app = await harness.start(OPTIONS);
      const observer = await harness.connect(`${app.wsUrl}?user=obs`);
      await join(observer, 'call');
      await observer.request('rt:peer-join', { room: 'call' });
      const client = await realtimeClient(app, 'bob', 'call');
      const { connectionId } = await client.ready;
      const call = roomCall(client, 'call'); // ICE servers from rt:ice: join() waits for it
      const joining = call.join();
      await call.leave();
      await joining;
      await wait(300);
      expect(callEventsAbout(observer, connectionId).at(-1)).not.toBe('rt:peer-joined');
    });

    // room-call.ts listen(): a second caller returns as soon as the listeners are set,
    // before rt:ice has answered, so connectServer() beside join() makes the connection
    // with no ICE servers: the TURN credentials the server minted are not used.
    it('connectServer() beside join() uses the ICE servers of rt:ice', async () => {
      const app = await harness.start({
        ...OPTIONS,
        webrtc: {
          ...LOOPBACK_WEBRTC,
          turn: { urls: ['turn:127.0.0.1:3478'], secret: 'review-secret' },
        },
      });
      const client = await realtimeClient(app, 'al', 'call');
      const call = roomCall(client, 'call');
      configs.length = 0;
      await Promise.all([call.join(), call.connectServer()]);
      expect(configs).toHaveLength(1);
      expect(configs[0]!.iceServers).toEqual([
        expect.objectContaining({ username: expect.stringMatching(/^\d+:al$/) }),
      ]);
    });

    // room-call.ts listen(): on "connected" after a reconnect, `void this.announce()`
    // drops the rejection of rt:peer-join: when the room was not joined again (here
    // canJoin refuses now), the process gets an unhandled rejection (which ends a Node
    // process by default).
    it('a refused rt:peer-join after a reconnect is no unhandled rejection', async () => {
      const rejections: unknown[] = [];
      const record = (reason: unknown) => rejections.push(reason);
      process.on('unhandledRejection', record);
      harness.defer(() => process.off('unhandledRejection', record));
      // The refusal is reported as a warning (RoomCall has no listener for it): recorded.
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
      harness.defer(() => warn.mockRestore());
      let allowed = true;
      const app = await harness.start({ ...OPTIONS, authorize: { canJoin: () => allowed } });
      const client = await realtimeClient(app, 'al', 'call');
      const call = roomCall(client, 'call', []);
      await call.join();
      allowed = false;
      const states: string[] = [];
      client.onState((state) => states.push(state));
      app.hub.connections.get((await client.ready).connectionId)!.close(1001, 'restarting');
      await until(() => states.includes('connected'), 5_000);
      // The re-join is refused, and reported; an unhandled rejection of it would surface
      // by the next turn of the event loop.
      await until(() => warn.mock.calls.length > 0, 10_000);
      await new Promise((resolve) => setImmediate(resolve));
      expect(rejections).toEqual([]);
      expect(warn).toHaveBeenCalledWith(
        'nest-realtime: the call of "call" failed:',
        expect.any(Error),
      );
    });

    // room-call.ts signal(): any offer from any room member makes a peer connection and
    // is answered, even by a RoomCall that never joined the call (one used only for
    // connectServer()): its ICE candidates go to whoever asked.
    it('a RoomCall that has not joined the call answers no peer', async () => {
      const app = await harness.start(OPTIONS);
      const client = await realtimeClient(app, 'al', 'call');
      const call = roomCall(client, 'call', []);
      const peers: CallPeer[] = [];
      call.onPeer((peer) => peers.push(peer));
      await call.connectServer();
      const mallory = await harness.connect(`${app.wsUrl}?user=mallory`);
      await join(mallory, 'call');
      const caller = new SignalingPeer(mallory, 'call', (await client.ready).connectionId);
      harness.defer(() => caller.close());
      caller.pc.createDataChannel('x');
      await caller.offer();
      const answered = await mallory.next(isAnswerSignal, 2_000).then(
        () => true,
        () => false,
      );
      expect({ answered, peers: peers.map((peer) => peer.id) }).toEqual({
        answered: false,
        peers: ['server'],
      });
    });
  });
});
