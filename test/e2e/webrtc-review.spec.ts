// Review of the WebRTC code: regression tests for confirmed bugs of the server's
// peers (media forwarding, closing, data channels) and of the client's RoomCall.
// Each test fails against the code as reviewed, for the reason its name gives.
import { MediaStreamTrack, RTCPeerConnection } from 'werift';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient, RoomCall, type CallPeer } from '../../lib/client/index.js';
import { WebRtcSignalingService, type RealtimeModuleOptions } from '../../lib/index.js';
import type { TestApp } from '../support/app.js';
import { join, until, userFromQuery, withHarness } from '../support/fixtures.js';
import { LOOPBACK_PEER, LOOPBACK_WEBRTC, SignalingPeer, loopbackOnly } from '../support/webrtc.js';
import type { Frame, TestClient } from '../support/ws-client.js';

const OPTIONS: RealtimeModuleOptions = {
  authenticate: userFromQuery,
  webrtc: { ...LOOPBACK_WEBRTC },
};

const peersOf = (app: TestApp) => app.app.get(WebRtcSignalingService).serverPeerCount;

/** The configurations RoomCalls made their peer connections with, in order. */
const configs: { iceServers?: unknown[] }[] = [];

/** werift's peer connection where the browser's would be, offering loopback only. */
class LoopbackPeerConnection extends RTCPeerConnection {
  constructor(config: { iceServers?: unknown[] } = {}) {
    configs.push(config);
    // What the call asked for is recorded; the connection itself asks no server.
    super({ ...config, iceServers: [], iceAdditionalHostAddresses: ['127.0.0.1'] });
  }
}
const Browserish = LoopbackPeerConnection as unknown as typeof globalThis.RTCPeerConnection;

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

/** An offer of a werift peer with a data channel (its connection is closed at once). */
async function anOffer(): Promise<{ type: string; sdp: string }> {
  const pc = new RTCPeerConnection(LOOPBACK_PEER);
  pc.createDataChannel('rt');
  await pc.setLocalDescription(await pc.createOffer());
  const { sdp } = pc.localDescription!;
  await pc.close();
  return { type: 'offer', sdp };
}

const isAnswerSignal = (f: Frame) =>
  f.event === 'rt:signal' && f.data?.description?.type === 'answer';

describe.runIf(loopbackOnly())('WebRTC review', () => {
  const harness = withHarness();

  const toServer = (client: TestClient, room: string) => {
    const peer = new SignalingPeer(client, room, 'server');
    harness.defer(() => peer.close());
    return peer;
  };

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
      RTCPeerConnection: Browserish,
      ...(iceServers && { iceServers }),
    });
    harness.defer(() => call.leave());
    return call;
  };

  // room-media.ts subscribe(): a newcomer's server peer gets the room's tracks (and an
  // offer from the server) as soon as its first offer is answered, while ICE and DTLS
  // are still starting; werift then flips the server's ICE role (an offerer is
  // controlling) in the middle of the checks, and the newcomer never connects.
  it('a subscriber that comes after a publisher connects to the server peer', async () => {
    const app = await harness.start(OPTIONS);
    const pat = await harness.connect(`${app.wsUrl}?user=pat`);
    await join(pat, 'stage');
    const publisher = toServer(pat, 'stage');
    publisher.pc.addTransceiver(new MediaStreamTrack({ kind: 'video' }), {
      direction: 'sendonly',
    });
    await publisher.offer();
    await publisher.connected();

    const outcomes: string[] = [];
    for (let i = 0; i < 6; i++) {
      const client = await harness.connect(`${app.wsUrl}?user=sub${i}`);
      await join(client, 'stage');
      const side = toServer(client, 'stage');
      side.pc.createDataChannel('rt');
      await side.offer();
      outcomes.push(
        await side.connected(3_000).then(
          () => 'connected',
          () => `still ${side.pc.connectionState}`,
        ),
      );
    }
    expect(outcomes).toEqual(Array.from({ length: 6 }, () => 'connected'));
  }, 60_000);

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
    expect(await holds(() => callEventsAbout(observer, connectionId).length > 0, 2_000)).toBe(true);
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
    await wait(300);
    expect(rejections).toEqual([]);
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

  // server-peer.ts adopt(): a data channel connection is added to the peer's set and
  // only removed when the whole peer closes; channels the client closes stay in it
  // (a client that opens and closes channels grows it without bound).
  it('closed data channels are not kept by their server peer', async () => {
    const app = await harness.start(OPTIONS);
    const sue = await harness.connect(`${app.wsUrl}?user=sue`);
    await join(sue, 'game');
    const side = toServer(sue, 'game');
    const channels = [side.pc.createDataChannel('rt')];
    await side.offer();
    await side.connected();
    for (let i = 0; i < 20; i++) channels.push(side.pc.createDataChannel(`c${i}`));
    await until(() => app.hub.connections.count() === 22, 5_000);
    for (const channel of channels.slice(1)) channel.close();
    await until(() => app.hub.connections.count() === 2, 5_000);
    const servers = (app.app.get(WebRtcSignalingService) as any).servers;
    const [peer] = [...servers.peers.values()];
    expect(peer.channels.size).toBe(1);
  }, 30_000);

  // server-peer.ts describe(): createAnswer()/setLocalDescription() are not wrapped like
  // setRemoteDescription; when the client leaves the room while its first offer is
  // applied, werift's InvalidStateError becomes INTERNAL_ERROR, logged as a server
  // failure with its stack (any client can cause it at will).
  it('leaving the room while the first offer is applied is no INTERNAL_ERROR', async () => {
    const app = await harness.start(OPTIONS);
    const ann = await harness.connect(`${app.wsUrl}?user=ann`);
    const offer = await anOffer();
    const codes: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      await join(ann, 'a');
      const id = `offer-${i}`;
      ann.send({ event: 'rt:signal', id, data: { room: 'a', to: 'server', description: offer } });
      ann.send({ event: 'rt:leave', id: `leave-${i}`, data: { room: 'a' } });
      const reply = await ann.next((f) => f.id === id);
      codes.push(reply.error?.code ?? null);
      await until(() => peersOf(app) === 0, 3_000);
    }
    expect(codes).not.toContain('INTERNAL_ERROR');
  });
});
