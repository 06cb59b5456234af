import { MediaStreamTrack, RTCPeerConnection } from 'werift';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient, RoomCall } from '../../lib/client/index.js';
import { WebRtcSignalingService, type RealtimeModuleOptions } from '../../lib/index.js';
import type { TestApp } from '../support/app.js';
import { errorReply, join, until, userFromQuery, withHarness } from '../support/fixtures.js';
import { LOOPBACK_PEER, LOOPBACK_WEBRTC, SignalingPeer, loopbackOnly } from '../support/webrtc.js';
import { eventIs, type TestClient } from '../support/ws-client.js';

const OPTIONS: RealtimeModuleOptions = {
  authenticate: userFromQuery,
  webrtc: { ...LOOPBACK_WEBRTC },
};
const peersOf = (app: TestApp) => app.app.get(WebRtcSignalingService).serverPeerCount;
import { readFileSync } from 'node:fs';
const udp = () =>
  readFileSync('/proc/net/udp', 'utf8').trim().split('\n').length -
  1 +
  readFileSync('/proc/net/udp6', 'utf8').trim().split('\n').length -
  1;

async function anOffer(): Promise<{ type: string; sdp: string }> {
  const pc = new RTCPeerConnection(LOOPBACK_PEER);
  pc.createDataChannel('rt');
  await pc.setLocalDescription(await pc.createOffer());
  const sdp = pc.localDescription!.sdp;
  await pc.close();
  return { type: 'offer', sdp };
}

describe.runIf(loopbackOnly())('webrtc review', () => {
  const harness = withHarness();

  it('exp2: subscribers join a room with a publisher', async () => {
    const app = await harness.start(OPTIONS);
    const pat = await harness.connect(`${app.wsUrl}?user=pat`);
    await join(pat, 'stage');
    const publisher = new SignalingPeer(pat, 'stage', 'server');
    harness.defer(() => publisher.close());
    const video = new MediaStreamTrack({ kind: 'video' });
    publisher.pc.addTransceiver(video, { direction: 'sendonly' });
    if (process.env.WITH_PUB) {
      await publisher.offer();
      await publisher.connected();
    }
    const results: string[] = [];
    for (let i = 0; i < 10; i++) {
      const c = await harness.connect(`${app.wsUrl}?user=s${i}`);
      await join(c, 'stage');
      const side = new SignalingPeer(c, 'stage', 'server');
      harness.defer(() => side.close());
      side.pc.createDataChannel('rt');
      await side.offer();
      const ok = await side.connected(5_000).then(
        () => 'ok',
        () => `fail:${side.pc.connectionState}:${side.pc.iceConnectionState}`,
      );
      results.push(ok);
    }
    console.log(results, peersOf(app));
  }, 120_000);

  it('exp4: roomcall', async () => {
    const app = await harness.start({ ...OPTIONS, webrtc: { ...LOOPBACK_WEBRTC, turn: { urls: ['turn:127.0.0.1:3478'], secret: 's' } } });
    const configs: any[] = [];
    class Loop extends RTCPeerConnection {
      constructor(config: any = {}) {
        configs.push(config);
        super({ ...config, iceServers: [], iceAdditionalHostAddresses: ['127.0.0.1'] });
      }
    }
    const client = new RealtimeClient(`${app.wsUrl}?user=al`, { WebSocket, reconnect: { initialDelay: 20, maxDelay: 100 } });
    harness.defer(() => client.close());
    const call = new RoomCall(client, 'call', { RTCPeerConnection: Loop as any });
    harness.defer(() => call.leave());
    const r = await call.join().then(() => 'ok', (e) => `err ${e.code}`);
    console.log('join before room', r);
    await client.subscribe('call').ready;
    console.log('join again', await call.join().then(() => 'ok', (e) => `err ${e.code}`));
    const svc = app.app.get(WebRtcSignalingService) as any;
    console.log('peerRooms size', svc.peerRooms.size);
    // concurrent connectServer
    const call2 = new RoomCall(client, 'call', { RTCPeerConnection: Loop as any });
    harness.defer(() => call2.leave());
    const [, pc] = await Promise.all([call2.join(), call2.connectServer()]);
    console.log('configs', JSON.stringify(configs));
    // leave during join
    const bob = new RealtimeClient(`${app.wsUrl}?user=bob`, { WebSocket });
    harness.defer(() => bob.close());
    await bob.subscribe('call').ready;
    const call3 = new RoomCall(bob, 'call', { RTCPeerConnection: Loop as any });
    const j = call3.join();
    await call3.leave();
    await j;
    await new Promise((res) => setTimeout(res, 300));
    console.log('peerRooms after leave-during-join', [...svc.peerRooms].map(([c, rooms]: any) => [c.userId, [...rooms]]));
    // server pc closes on leave?
    const sc = (pc as any);
    sc.createDataChannel('rt');
    await until(() => peersOf(app) === 1, 5000);
    await until(() => sc.connectionState === 'connected', 5000);
    await call2.leave();
    const t0 = Date.now();
    await until(() => peersOf(app) === 0, 8000).catch(() => undefined);
    console.log('server peers after leave', peersOf(app), Date.now() - t0);
  }, 30_000);

  it('exp3: garbage', async () => {
    const errors: unknown[] = [];
    const onErr = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onErr);
    process.on('unhandledRejection', onErr);
    harness.defer(() => { process.off('uncaughtException', onErr); process.off('unhandledRejection', onErr); });
    const app = await harness.start(OPTIONS);
    const ann = await harness.connect(`${app.wsUrl}?user=ann`);
    await join(ann, 'a');
    const offer = await anOffer();
    console.log('offer', JSON.stringify(await ann.request('rt:signal', { room: 'a', to: 'server', description: offer })));
    const cands = [
      'candidate:1 1 udp 2130706431 127.0.0.1 notaport typ host',
      'candidate:1 1 udp 2130706431 999.999.1.1 5000 typ host',
      'candidate:1 1 udp 2130706431 example.invalid 5000 typ host',
      'candidate:1 1 tcp 2130706431 127.0.0.1 5000 typ host tcptype active',
      'candidate:1 1 udp x 127.0.0.1 5000 typ relay raddr 1.2.3.4 rport 9',
      'candidate:',
      'a',
      'candidate:1 1 udp 2130706431 127.0.0.1 5000',
      'candidate:1 1 udp 2130706431 127.0.0.1 5000 typ',
      'candidate:1 1 udp 2130706431 ::1 5000 typ host',
      'candidate:1 1 udp 2130706431 127.0.0.1 99999999 typ host',
      'candidate:1 1 udp 2130706431 127.0.0.1 0 typ host',
    ];
    for (const c of cands) {
      for (const extra of [{ sdpMLineIndex: 0 }, { sdpMid: '0' }, { sdpMLineIndex: 0, usernameFragment: 'nope' }]) {
        const r = await ann.request('rt:signal', { room: 'a', to: 'server', candidate: { candidate: c, ...extra } });
        console.log(c, JSON.stringify(extra), JSON.stringify(r.error ?? r.data));
      }
    }
    const sdps = [
      'v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n',
      'm=audio',
      offer.sdp.replace(/a=fingerprint.*\r\n/, ''),
      offer.sdp.replace(/a=ice-ufrag.*\r\n/, ''),
      offer.sdp.replace(/a=setup:actpass/, 'a=setup:bogus'),
      offer.sdp.replace(/m=application (\d+)/, 'm=foo $1'),
      offer.sdp + 'm=video 9 UDP/TLS/RTP/SAVPF 96\r\n',
    ];
    for (const [k, sdp] of sdps.entries()) {
      const bea = await harness.connect(`${app.wsUrl}?user=b${k}`);
      await join(bea, 'a');
      const r = await bea.request('rt:signal', { room: 'a', to: 'server', description: { type: 'offer', sdp } });
      console.log('sdp', k, JSON.stringify(r.error ?? r.data));
      const r2 = await ann.request('rt:signal', { room: 'a', to: 'server', description: { type: 'offer', sdp } });
      console.log('sdp-reoffer', k, JSON.stringify(r2.error ?? r2.data));
    }
    await new Promise((r) => setTimeout(r, 1500));
    console.log('errors', errors.map(String));
  }, 60_000);

  it('exp1: leave while the first offer is applied', async () => {
    const app = await harness.start(OPTIONS);
    const ann = await harness.connect(`${app.wsUrl}?user=ann`);
    await join(ann, 'a');
    const offer = await anOffer();
    const before = udp();
    console.log('udp before', before);
    for (let delay = 0; delay < 6; delay++) {
      const id = `o${delay}`;
      ann.send({ event: 'rt:signal', id, data: { room: 'a', to: 'server', description: offer } });
      if (delay > 0) await new Promise((r) => setTimeout(r, delay * 3));
      ann.send({ event: 'rt:leave', id: `l${delay}`, data: { room: 'a' } });
      const reply = await Promise.race([
        ann.next((f) => f.id === id),
        new Promise((r) => setTimeout(() => r('TIMEOUT'), 3000)),
      ]);
      console.log(delay, JSON.stringify(reply), 'peers', peersOf(app), 'udp', udp());
      await join(ann, 'a');
    }
    await new Promise((r) => setTimeout(r, 1000));
    console.log('end peers', peersOf(app), 'udp', udp());
  });
});
