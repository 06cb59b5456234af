// What one client can make a server peer negotiate (issue 20.6): offers of hundreds of
// m-sections within maxSdpBytes, re-sent under the frame rate limit, kept werift busy
// and starved the node. The m-sections a client's offer adds, and its offers a second,
// are bounded and refused before werift reads them; the peer stays as it was.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MediaStreamTrack, RTCPeerConnection } from 'werift';
import { WebRtcSignalingService, type RealtimeModuleOptions } from '../../../lib/index.js';
import type { TestApp } from '../../support/app.js';
import { errorReply, join, until, userFromQuery, withHarness } from '../../support/fixtures.js';
import {
  LOOPBACK_PEER,
  LOOPBACK_WEBRTC,
  SignalingPeer,
  loopbackOnly,
} from '../../support/webrtc.js';
import type { Frame, TestClient } from '../../support/ws-client.js';

const OPTIONS: RealtimeModuleOptions = { authenticate: userFromQuery, webrtc: LOOPBACK_WEBRTC };

/** `sdp` with `count` more audio m-sections (each its own mid, in the bundle). */
function withSections(sdp: string, count: number): string {
  const mids = Array.from({ length: count }, (_, i) => `x${i}`);
  let padded = sdp.replace(
    /^a=group:BUNDLE (.*?)\r?$/m,
    (_line, group: string) => `a=group:BUNDLE ${group} ${mids.join(' ')}`,
  );
  for (const mid of mids) {
    padded +=
      'm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n' +
      `a=mid:${mid}\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\n`;
  }
  return padded;
}

const sectionsOf = (sdp: string) => sdp.match(/^m=/gm)!.length;

/** The transceivers of the server's peer of `client`, seen from the server. */
function serverTransceivers(app: TestApp, client: TestClient): unknown[] {
  const servers = (app.app.get(WebRtcSignalingService) as any).servers;
  const peer = [...servers.peers.values()].find((p: any) => p.owner.id === client.connectionId);
  return peer.pc.getTransceivers();
}

/** Offers what the client's peer has now, and waits for the answer (or rolls back). */
async function renegotiate(peer: SignalingPeer): Promise<Frame> {
  const { pc } = peer;
  await pc.setLocalDescription(await pc.createOffer());
  const description = { type: 'offer', sdp: pc.localDescription!.sdp };
  const reply = await peer.client.request('rt:signal', {
    room: peer.room,
    to: 'server',
    description,
  });
  if (reply.error) await pc.setLocalDescription({ type: 'rollback' });
  else await until(() => pc.signalingState === 'stable', 5_000);
  return reply;
}

describe.runIf(loopbackOnly())('the bounds of a client on its server peer', () => {
  const harness = withHarness();
  afterEach(() => {
    vi.useRealTimers();
  });

  const toServer = (client: TestClient, room: string) => {
    const peer = new SignalingPeer(client, room, 'server');
    harness.defer(() => peer.close());
    return peer;
  };

  const connected = async (client: TestClient, room: string, tracks = 0) => {
    const peer = toServer(client, room);
    const channel = peer.pc.createDataChannel('rt');
    for (let i = 0; i < tracks; i++) {
      peer.pc.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendonly' });
    }
    expect((await renegotiate(peer)).error).toBeUndefined();
    await peer.connected();
    return { peer, channel };
  };

  it('refuses an offer of 561 m-sections within maxSdpBytes, and the peer goes on as it was', async () => {
    const app = await harness.start(OPTIONS);
    const eve = await harness.connect(`${app.wsUrl}?user=eve`);
    await join(eve, 'call');
    const { peer, channel } = await connected(eve, 'call');
    const replies: string[] = [];
    channel.onMessage.subscribe((data) => replies.push(data.toString()));

    const sdp = withSections(peer.pc.localDescription!.sdp, 560);
    expect([sectionsOf(sdp), Buffer.byteLength(sdp) < 65_536]).toEqual([561, true]);
    const reply = await eve.request('rt:signal', {
      room: 'call',
      to: 'server',
      description: { type: 'offer', sdp },
    });
    expect(reply).toEqual(errorReply(expect.any(Number), 'TRACK_LIMIT_REACHED'));
    expect(reply.error!.message).toContain('561 m-sections, at most 5');
    // werift never saw it.
    expect(serverTransceivers(app, eve)).toHaveLength(0);

    // A normal renegotiation: a track of the client's, answered, and on the server's peer.
    const video = peer.pc.addTransceiver(new MediaStreamTrack({ kind: 'video' }), {
      direction: 'sendonly',
    });
    expect((await renegotiate(peer)).data).toBeNull();
    expect(video.currentDirection).toBe('sendonly');
    expect(serverTransceivers(app, eve)).toHaveLength(1);
    // And its data channel still serves.
    channel.send(JSON.stringify({ event: 'rt:join', data: { room: 'call' }, id: 7 }));
    await until(() => replies.some((raw) => JSON.parse(raw).id === 7), 5_000);
    expect(peer.errors).toEqual([]);
  });

  it('takes maxTracksPerPeer tracks of a client (4), and refuses an offer that adds one more', async () => {
    const app = await harness.start(OPTIONS);
    const ann = await harness.connect(`${app.wsUrl}?user=ann`);
    await join(ann, 'call');
    // Four tracks and the data section: the bound, taken.
    const { peer } = await connected(ann, 'call', 4);
    expect(serverTransceivers(app, ann)).toHaveLength(4);

    peer.pc.addTransceiver(new MediaStreamTrack({ kind: 'audio' }), { direction: 'sendonly' });
    const reply = await renegotiate(peer);
    expect(reply).toEqual(errorReply(expect.any(Number), 'TRACK_LIMIT_REACHED'));
    expect(reply.error!.message).toContain('6 m-sections, at most 5');
    expect(serverTransceivers(app, ann)).toHaveLength(4);
    expect(peer.errors).toEqual([]);
  });

  it('refuses offers past offersPerSecond (2) and offerBurst (5), and takes one again once the bucket has refilled', async () => {
    // The clock of the bucket is driven by the test; werift's own timers run as ever.
    vi.useFakeTimers({ toFake: ['performance'] });
    const app = await harness.start(OPTIONS);
    const bob = await harness.connect(`${app.wsUrl}?user=bob`);
    await join(bob, 'call');
    const { peer } = await connected(bob, 'call'); // the first of the five
    for (let i = 0; i < 4; i++) expect((await renegotiate(peer)).data).toBeNull();
    expect(await renegotiate(peer)).toEqual(errorReply(expect.any(Number), 'RATE_LIMITED'));
    // 2 a second: 499 ms is not yet an offer's worth, 500 ms is.
    vi.advanceTimersByTime(499);
    expect(await renegotiate(peer)).toEqual(errorReply(expect.any(Number), 'RATE_LIMITED'));
    vi.advanceTimersByTime(1);
    expect((await renegotiate(peer)).data).toBeNull();
    expect(await renegotiate(peer)).toEqual(errorReply(expect.any(Number), 'RATE_LIMITED'));
    // The refusals left the peer as it was: connected, stable.
    expect([peer.pc.connectionState, peer.pc.signalingState]).toEqual(['connected', 'stable']);
    expect(peer.errors).toEqual([]);
  });

  it('lets a subscriber re-offer the tracks the server forwards to it, on top of its own', async () => {
    const app = await harness.start(OPTIONS);
    const [sue, ...publishers] = await Promise.all(
      ['sue', 'pat', 'pia', 'pol'].map(async (user) => {
        const client = await harness.connect(`${app.wsUrl}?user=${user}`);
        await join(client, 'stage');
        return client;
      }),
    );
    const { peer } = await connected(sue!, 'stage');
    for (const publisher of publishers) await connected(publisher, 'stage', 1);
    // The server forwards the three publishers' tracks to sue, and she has answered.
    const forwarded = () =>
      peer.pc.getTransceivers().filter((t) => t.currentDirection === 'recvonly').length;
    await until(() => forwarded() === 3 && peer.pc.signalingState === 'stable', 10_000);

    // Her re-offer repeats the server's three sections: with her four tracks and the
    // data section, eight, more than maxTracksPerPeer + 1 alone, and taken.
    for (let i = 0; i < 4; i++) {
      peer.pc.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendonly' });
    }
    const reply = await renegotiate(peer);
    expect(reply.data).toBeNull();
    expect(sectionsOf(peer.pc.localDescription!.sdp)).toBe(8);
    // A fifth track of hers is one past the bound.
    peer.pc.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendonly' });
    expect(await renegotiate(peer)).toEqual(errorReply(expect.any(Number), 'TRACK_LIMIT_REACHED'));
    expect(peer.errors).toEqual([]);
  }, 30_000);

  it("refuses an answer with more m-sections than the server's offer, and takes the real one after", async () => {
    const app = await harness.start(OPTIONS);
    const [lou, pat] = await Promise.all(
      ['lou', 'pat'].map(async (user) => {
        const client = await harness.connect(`${app.wsUrl}?user=${user}`);
        await join(client, 'stage');
        return client;
      }),
    );
    const { peer } = await connected(lou!, 'stage');
    const release = peer.holdOffers();
    await connected(pat!, 'stage', 1);
    await until(() => peer.offersHeld() === 1, 10_000);
    const offer = await lou!.next(
      (f) => f.event === 'rt:signal' && f.data.description?.type === 'offer',
    );

    // A real answer to the server's offer (of another peer), padded.
    const other = new RTCPeerConnection(LOOPBACK_PEER);
    harness.defer(() => other.close());
    await other.setRemoteDescription(offer.data.description);
    await other.setLocalDescription(await other.createAnswer());
    const sdp = withSections(other.localDescription!.sdp, 560);
    const reply = await lou!.request('rt:signal', {
      room: 'stage',
      to: 'server',
      description: { type: 'answer', sdp },
    });
    expect(reply).toEqual(errorReply(expect.any(Number), 'INVALID_DATA'));
    expect(reply.error!.message).toContain("more than the offer's 2 m-sections");

    // lou's own answer is still awaited, and taken: pat's track reaches her.
    release();
    await until(
      () => peer.pc.getTransceivers().some((t) => t.currentDirection === 'recvonly'),
      10_000,
    );
    expect(peer.errors).toEqual([]);
  }, 30_000);
});
