// The server's own WebRTC peers (werift), with werift peers as clients: a data
// channel to the server is a transport into the core; a publisher's tracks are
// forwarded to the room's other peers, with a keyframe asked when they come; limits,
// timeouts and every way a peer ends close it.
import { describe, expect, it } from 'vitest';
import {
  MediaStreamTrack,
  PictureLossIndication,
  RTCPeerConnection,
  RtcpPayloadSpecificFeedback,
  RtpHeader,
  RtpPacket,
  type RTCDataChannel,
  type RTCRtpSender,
} from 'werift';
import {
  RealtimeMetrics,
  WebRtcSignalingService,
  type RealtimeModuleOptions,
} from '../../../lib/index.js';
import type { TestApp } from '../../support/app.js';
import { errorReply, join, until, userFromQuery, withHarness } from '../../support/fixtures.js';
import {
  LOOPBACK_PEER,
  LOOPBACK_WEBRTC,
  SignalingPeer,
  loopbackOnly,
} from '../../support/webrtc.js';
import { eventIs, type TestClient } from '../../support/ws-client.js';

const OPTIONS: RealtimeModuleOptions = {
  authenticate: userFromQuery,
  webrtc: { ...LOOPBACK_WEBRTC },
};

const peersOf = (app: TestApp) => app.app.get(WebRtcSignalingService).serverPeerCount;

/** The app's WebRTC gauges as the metrics read them, `name` or `name:label`. */
function webrtcGauges(app: TestApp): Record<string, number> {
  const gauges: Record<string, number> = {};
  for (const family of app.app.get(RealtimeMetrics).families()) {
    if (family.type !== 'gauge' || !family.name.startsWith('realtime_webrtc_')) continue;
    for (const { labels, value } of family.read()) {
      gauges[[family.name, ...Object.values(labels)].join(':')] = value;
    }
  }
  return gauges;
}

/** Frames (JSON text) a data channel receives, in order. */
function framesOf(channel: RTCDataChannel): any[] {
  const frames: any[] = [];
  channel.onMessage.subscribe((data) => frames.push(JSON.parse(data.toString())));
  return frames;
}

/** Writes a packet of `kind` to `track` every 20 ms until stopped. */
function feed(track: MediaStreamTrack, payloadType: number): () => void {
  let sequenceNumber = 0;
  let timestamp = 0;
  const payload =
    track.kind === 'video'
      ? Buffer.from([0x10, 0x00, 0x9d, 0x01, 0x2a, 0x02, 0x00, 0x02, 0x00]) // a VP8 keyframe start
      : Buffer.from([0xfc, 0xff, 0xfe]); // an Opus frame
  const timer = setInterval(() => {
    const header = new RtpHeader({
      payloadType,
      sequenceNumber: sequenceNumber++ & 0xffff,
      timestamp: (timestamp += 960) >>> 0,
      ssrc: 4242,
      marker: true,
    });
    track.writeRtp(new RtpPacket(header, payload));
  }, 20);
  return () => clearInterval(timer);
}

describe.runIf(loopbackOnly())('WebRTC server peers', () => {
  const harness = withHarness();
  const toServer = (client: TestClient, room: string) => {
    const peer = new SignalingPeer(client, room, 'server');
    harness.defer(() => peer.close());
    return peer;
  };

  it('a data channel to the server is a connection of the core: join, publish and receive, both ways', async () => {
    const app = await harness.start(OPTIONS);
    const ws = await harness.connect(`${app.wsUrl}?user=wes`);
    const gamer = await harness.connect(`${app.wsUrl}?user=gina`);
    await join(ws, 'game');
    await join(gamer, 'game');
    const peer = toServer(gamer, 'game');
    const reliable = peer.pc.createDataChannel('rt');
    const lossy = peer.pc.createDataChannel('rt-lossy', { ordered: false, maxRetransmits: 0 });
    const frames = framesOf(reliable);
    const lossyFrames = framesOf(lossy);
    await peer.offer();
    await peer.connected();
    await until(() => frames.length > 0 && lossyFrames.length > 0, 5_000);
    expect(frames[0]).toMatchObject({
      event: 'rt:connected',
      data: { userId: 'gina', transport: 'webrtc' },
    });
    expect(peersOf(app)).toBe(1);
    // Two channels, two connections of gina's, besides her WebSocket and wes's.
    expect(app.hub.connections.count()).toBe(4);

    reliable.send(JSON.stringify({ event: 'rt:join', data: { room: 'game' }, id: 1 }));
    lossy.send(JSON.stringify({ event: 'rt:join', data: { room: 'game' }, id: 1 }));
    await until(() => frames.some((f) => f.id === 1) && lossyFrames.some((f) => f.id === 1));
    expect(frames.find((f) => f.id === 1)).toMatchObject({
      event: 'rt:reply',
      data: { name: 'game' },
    });

    await ws.request('rt:publish', { room: 'game', event: 'move', data: { x: 1 } });
    await until(
      () => frames.some((f) => f.event === 'move') && lossyFrames.some((f) => f.event === 'move'),
    );
    expect(frames.find((f) => f.event === 'move')).toMatchObject({ data: { x: 1 }, room: 'game' });

    reliable.send(
      JSON.stringify({
        event: 'rt:publish',
        data: { room: 'game', event: 'shot', data: 7 },
        id: 2,
      }),
    );
    expect((await ws.next(eventIs('shot'))).data).toBe(7);
    await until(() => frames.some((f) => f.id === 2));
    expect(frames.find((f) => f.id === 2)).toMatchObject({ data: { room: 'game', offset: 2 } });

    // Bad input on the channel: each gets its documented answer, and the channel goes on.
    reliable.send(Buffer.from([0xff, 0x00]));
    reliable.send('not json');
    reliable.send(JSON.stringify({ event: 'nobody-handles-this', id: 3 }));
    reliable.send(JSON.stringify({ event: 'rt:join', data: { room: '' }, id: 4 }));
    await until(() => frames.filter((f) => f.event === 'rt:error' || f.error).length === 4);
    const errors = frames.filter((f) => f.event === 'rt:error' || f.error);
    expect(errors.map((f) => f.error?.code ?? f.data.code)).toEqual([
      'BAD_FRAME',
      'BAD_FRAME',
      'UNKNOWN_EVENT',
      'ROOM_NAME_INVALID',
    ]);

    // Leaving the room the peer belongs to closes it, and its channels leave the hub.
    await gamer.request('rt:leave', { room: 'game' });
    await until(() => peersOf(app) === 0 && app.hub.connections.count() === 2, 5_000);
  });

  it("forwards a publisher's VP8 and Opus to two subscribers, asking a keyframe (PLI) for each, and takes them away when it leaves", async () => {
    const app = await harness.start(OPTIONS);
    const clients = await Promise.all(
      ['pat', 'sue', 'sid'].map(async (user) => {
        const client = await harness.connect(`${app.wsUrl}?user=${user}`);
        await join(client, 'stage');
        return client;
      }),
    );
    const [pat, sue, sid] = clients as [TestClient, TestClient, TestClient];
    const received = new Map<string, { packets: number }>();
    const subscriber = async (client: TestClient, name: string) => {
      const peer = toServer(client, 'stage');
      const seen = { packets: 0 };
      received.set(name, seen);
      peer.pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => seen.packets++));
      peer.pc.createDataChannel('rt'); // something to offer before any media
      await peer.offer();
      await peer.connected();
      return peer;
    };

    // The server's offers to sue (it re-offers as tracks come and go).
    const offers: string[] = [];
    sue.socket.on('message', (raw: Buffer) => {
      const { event, data } = JSON.parse(raw.toString());
      if (event === 'rt:signal' && data.from === 'server' && data.description?.type === 'offer')
        offers.push(data.description.sdp);
    });
    // sue is there before the publisher; sid comes after it.
    const sueSide = await subscriber(sue, 'sue');
    const publisher = toServer(pat, 'stage');
    const video = new MediaStreamTrack({ kind: 'video' });
    const audio = new MediaStreamTrack({ kind: 'audio' });
    const senders: RTCRtpSender[] = [
      publisher.pc.addTransceiver(video, { direction: 'sendonly' }).sender,
      publisher.pc.addTransceiver(audio, { direction: 'sendonly' }).sender,
    ];
    let plis = 0;
    senders[0]!.onPictureLossIndication.subscribe(() => plis++);
    await publisher.offer();
    await publisher.connected();
    const stops = [feed(video, 96), feed(audio, 111)];
    harness.defer(() => stops.forEach((stop) => stop()));
    const sidSide = await subscriber(sid, 'sid');

    await until(
      () => received.get('sue')!.packets > 40 && received.get('sid')!.packets > 40,
      10_000,
    );
    // Both kinds reach both, each a track of its own, in a stream named after pat's connection.
    for (const side of [sueSide, sidSide]) {
      const kinds = side.pc
        .getTransceivers()
        .filter((t) => t.receiver.track)
        .map((t) => t.kind)
        .toSorted();
      expect(kinds).toEqual(['audio', 'video']);
    }
    for (const side of [sueSide, sidSide]) {
      const streams = side.pc
        .getTransceivers()
        .filter((t) => t.receiver.track)
        .map((t) => t.receiver.remoteStreamId);
      expect(streams).toEqual([pat.connectionId, pat.connectionId]);
    }
    // A keyframe was asked of the publisher for each subscriber that came.
    await until(() => plis >= 2, 5_000);
    // Each offer is valid for any standard peer: its DTLS role is actpass (RFC 8842),
    // never the role the server took.
    expect(offers.length).toBeGreaterThan(0);
    for (const sdp of offers) {
      expect(sdp).toMatch(/^a=setup:actpass\r?$/m);
      expect(sdp).not.toMatch(/^a=setup:(active|passive)/m);
    }
    expect(peersOf(app)).toBe(3);
    expect([...publisher.errors, ...sueSide.errors, ...sidSide.errors]).toEqual([]);
    // The metrics see them: three peers, sue's and sid's channels, two tracks each forwarded twice.
    expect(webrtcGauges(app)).toEqual({
      realtime_webrtc_server_peers: 3,
      realtime_webrtc_data_channels: 2,
      'realtime_webrtc_tracks:received': 2,
      'realtime_webrtc_tracks:forwarded': 4,
    });

    // The publisher leaves: its tracks leave the subscribers' connections.
    await pat.request('rt:leave', { room: 'stage' });
    await until(() => peersOf(app) === 2, 5_000);
    await until(
      () =>
        [sueSide, sidSide].every((side) =>
          side.pc
            .getTransceivers()
            .every((t) => t.kind === 'application' || t.currentDirection !== 'recvonly'),
        ),
      5_000,
    );
    expect(webrtcGauges(app)).toMatchObject({
      realtime_webrtc_server_peers: 2,
      'realtime_webrtc_tracks:received': 0,
      'realtime_webrtc_tracks:forwarded': 0,
    });
    const after = received.get('sue')!.packets;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(received.get('sue')!.packets - after).toBeLessThan(5);
    // Everyone goes: every server peer is closed.
    await Promise.all([sue.close(), sid.close()]);
    await until(() => peersOf(app) === 0, 5_000);
  }, 30_000);

  it('asks a keyframe once a late subscriber has answered, and for the PLI of a subscriber that sends media too', async () => {
    const app = await harness.start(OPTIONS);
    const [pat, lou, mia] = await Promise.all(
      ['pat', 'lou', 'mia'].map(async (user) => {
        const client = await harness.connect(`${app.wsUrl}?user=${user}`);
        await join(client, 'stage');
        return client;
      }),
    );
    // lou is connected to the server before anything is published, and slow to answer.
    const louSide = toServer(lou, 'stage');
    louSide.pc.createDataChannel('rt');
    await louSide.offer();
    await louSide.connected();
    const release = louSide.holdOffers();
    let louPackets = 0;
    louSide.pc.onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => louPackets++));

    const publisher = toServer(pat, 'stage');
    const video = new MediaStreamTrack({ kind: 'video' });
    const { sender } = publisher.pc.addTransceiver(video, { direction: 'sendonly' });
    let plis = 0;
    sender.onPictureLossIndication.subscribe(() => plis++);
    await publisher.offer();
    await publisher.connected();
    harness.defer(feed(video, 96));

    // The server offers lou the track while packets flow (lou's transport is up): the
    // keyframe asked now would be lost. It is asked once lou has answered.
    await until(() => louSide.offersHeld() === 1, 10_000);
    const beforeAnswer = plis;
    release();
    await until(() => plis > beforeAnswer && louPackets > 0, 10_000);
    expect(beforeAnswer).toBe(0);

    // mia sends video too: the PLI she sends for pat's track names her own stream as
    // its sender (as Chromium does), which must not keep it from reaching pat.
    const miaSide = toServer(mia, 'stage');
    const own = new MediaStreamTrack({ kind: 'video' });
    const miaSender = miaSide.pc.addTransceiver(own, { direction: 'sendonly' }).sender;
    let forwarded: MediaStreamTrack | undefined;
    miaSide.pc.onTrack.subscribe((track) => {
      if (track.kind === 'video') forwarded ??= track;
    });
    await miaSide.offer();
    await miaSide.connected();
    harness.defer(feed(own, 96));
    await until(() => forwarded?.ssrc !== undefined, 10_000);
    await until(() => plis >= 2, 10_000); // lou's, then mia's as she started
    const beforeRequest = plis;
    await miaSender.dtlsTransport.sendRtcp([
      new RtcpPayloadSpecificFeedback({
        feedback: new PictureLossIndication({
          senderSsrc: miaSender.ssrc,
          mediaSsrc: forwarded!.ssrc!,
        }),
      }),
    ]);
    await until(() => plis > beforeRequest, 5_000);
    expect([...publisher.errors, ...louSide.errors, ...miaSide.errors]).toEqual([]);
  }, 40_000);

  it('refuses past its limits, times out a peer that never connects, and closes every peer at shutdown', async () => {
    const app = await harness.start({
      ...OPTIONS,
      webrtc: { ...LOOPBACK_WEBRTC, maxPeersPerUser: 1, maxPeersPerRoom: 2, connectTimeout: 400 },
    });
    const ann = await harness.connect(`${app.wsUrl}?user=ann`);
    await join(ann, 'a');
    await join(ann, 'b');
    const first = toServer(ann, 'a');
    first.pc.createDataChannel('rt');
    await first.offer();
    await first.connected();
    // A second server peer of ann's, in another room: past maxPeersPerUser.
    const offer = { type: 'offer', sdp: first.pc.localDescription!.sdp };
    expect(await ann.request('rt:signal', { room: 'b', to: 'server', description: offer })).toEqual(
      errorReply(expect.any(Number), 'PEER_LIMIT_REACHED'),
    );
    // A candidate before any offer; an offer werift cannot read.
    expect(
      await ann.request('rt:signal', { room: 'b', to: 'server', candidate: { candidate: 'x' } }),
    ).toEqual(errorReply(expect.any(Number), 'PEER_NOT_FOUND'));

    // A client that offers and never answers the ICE checks: closed at connectTimeout.
    const bea = await harness.connect(`${app.wsUrl}?user=bea`);
    await join(bea, 'a');
    const garbled = await bea.request('rt:signal', {
      room: 'a',
      to: 'server',
      description: { type: 'offer', sdp: 'v=0\r\nthis is not sdp\r\n' },
    });
    expect(garbled).toEqual(errorReply(expect.any(Number), 'INVALID_DATA'));
    await until(() => peersOf(app) === 1, 3_000);
    const silent = await bea.request('rt:signal', { room: 'a', to: 'server', description: offer });
    expect(silent.data).toBeNull();
    expect(peersOf(app)).toBe(2);
    await until(() => peersOf(app) === 1, 3_000);
    // The answer did come to bea, as a signal from "server".
    const answer = await bea.next((f) => f.event === 'rt:signal' && f.data.description);
    expect(answer.data).toMatchObject({
      room: 'a',
      from: 'server',
      description: { type: 'answer' },
    });

    // Shutdown closes what is left.
    const signaling = app.app.get(WebRtcSignalingService);
    harness.forget(app);
    await app.close();
    expect(signaling.serverPeerCount).toBe(0);
  });

  it('counts peers per room, per node and per anonymous connection, and channels per peer', async () => {
    const app = await harness.start({
      webrtc: { ...LOOPBACK_WEBRTC, maxPeersPerRoom: 1, maxPeersPerNode: 2, maxChannelsPerPeer: 2 },
    });
    const anonymous = await Promise.all([0, 1, 2].map(() => harness.connect(app.wsUrl)));
    const [one, two, three] = anonymous as [TestClient, TestClient, TestClient];
    for (const client of anonymous) {
      await join(client, 'x');
      await join(client, 'y');
      await join(client, 'z');
    }
    const first = toServer(one, 'x');
    const channels = [0, 1, 2].map((i) => first.pc.createDataChannel(`c${i}`));
    await first.offer();
    await first.connected();
    const offer = { type: 'offer', sdp: first.pc.localDescription!.sdp };
    // Room x has its one peer; another anonymous connection may still have one elsewhere.
    expect(await two.request('rt:signal', { room: 'x', to: 'server', description: offer })).toEqual(
      errorReply(expect.any(Number), 'PEER_LIMIT_REACHED'),
    );
    expect(
      (await two.request('rt:signal', { room: 'y', to: 'server', description: offer })).data,
    ).toBeNull();
    // The node has its two peers.
    expect(
      await three.request('rt:signal', { room: 'z', to: 'server', description: offer }),
    ).toEqual(errorReply(expect.any(Number), 'PEER_LIMIT_REACHED'));
    // Of the three channels, two are connections; the third was closed.
    await until(() => channels.filter((c) => c.readyState === 'closed').length === 1, 5_000);
    expect(app.hub.connections.count()).toBe(3 + 2);
    // rt:peer-leave closes the connection's server peer in the room (it is in no call).
    expect((await one.request('rt:peer-leave', { room: 'x' })).data).toBe(true);
    await until(() => peersOf(app) === 1, 3_000);
    expect(app.hub.connections.count()).toBe(3);
  });

  it('applies the authorize hooks to data channels, as to every transport', async () => {
    const app = await harness.start({
      authenticate: userFromQuery,
      webrtc: LOOPBACK_WEBRTC,
      authorize: {
        canJoin: (_principal, room) => room !== 'secret',
        canPublish: (_principal, _room, { event }) => event !== 'forbidden',
      },
    });
    const dan = await harness.connect(`${app.wsUrl}?user=dan`);
    await join(dan, 'open');
    const peer = toServer(dan, 'open');
    const channel = peer.pc.createDataChannel('rt');
    const frames = framesOf(channel);
    await peer.offer();
    await peer.connected();
    await until(() => frames.length > 0, 5_000);
    const ask = async (id: number, event: string, data: unknown) => {
      channel.send(JSON.stringify({ event, data, id }));
      await until(() => frames.some((f) => f.id === id), 5_000);
      return frames.find((f) => f.id === id);
    };
    expect((await ask(1, 'rt:join', { room: 'secret' })).error).toMatchObject({
      code: 'FORBIDDEN',
    });
    expect((await ask(2, 'rt:join', { room: 'open' })).data).toMatchObject({ name: 'open' });
    expect(
      (await ask(3, 'rt:publish', { room: 'open', event: 'forbidden', data: 1 })).error,
    ).toMatchObject({ code: 'FORBIDDEN' });
    expect(
      (await ask(4, 'rt:publish', { room: 'open', event: 'fine', data: 1 })).data,
    ).toMatchObject({ room: 'open' });
  });
});

/** An offer of a werift peer with a data channel (its connection is closed at once). */
async function anOffer(): Promise<{ type: string; sdp: string }> {
  const pc = new RTCPeerConnection(LOOPBACK_PEER);
  pc.createDataChannel('rt');
  await pc.setLocalDescription(await pc.createOffer());
  const { sdp } = pc.localDescription!;
  await pc.close();
  return { type: 'offer', sdp };
}

describe('regressions', () => {
  describe.runIf(loopbackOnly())('server peers', () => {
    const harness = withHarness();

    const toServer = (client: TestClient, room: string) => {
      const peer = new SignalingPeer(client, room, 'server');
      harness.defer(() => peer.close());
      return peer;
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
});
