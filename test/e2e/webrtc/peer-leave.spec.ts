// The server closing its peer tells the client's peer at once: each data channel is
// reset (RFC 8831), the SCTP association aborted and DTLS closed (close_notify)
// before ICE stops. werift's own close() stops DTLS and ICE first, so none of it got
// out, and a client's channels stayed open until its ICE consent ran out (15-30 s).
// Every wait here is on the client's events; the test's timeout is the only bound.
import { describe, expect, it } from 'vitest';
import type { RTCDataChannel, RTCSctpTransport } from 'werift';
import { WebRtcSignalingService, type RealtimeModuleOptions } from '../../../lib/index.js';
import type { TestApp } from '../../support/app.js';
import { join, until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { LOOPBACK_WEBRTC, SignalingPeer, loopbackOnly } from '../../support/webrtc.js';

const OPTIONS: RealtimeModuleOptions = {
  authenticate: userFromQuery,
  // The server waits for the resets' confirmation however slow the machine is (past
  // closeTimeout it aborts, which closes the channels too, but not by their reset).
  webrtc: { ...LOOPBACK_WEBRTC, closeTimeout: 60_000 },
};

const peersOf = (app: TestApp) => app.app.get(WebRtcSignalingService).serverPeerCount;

/**
 * Resolves once `channel` is closed, with the state its SCTP association was in then:
 * still `connected` when the server reset the channel's stream before it aborted.
 */
async function closed(channel: RTCDataChannel, sctp: RTCSctpTransport): Promise<string> {
  await channel.stateChanged.watch((state) => state === 'closed');
  return sctp.sctp.state;
}

describe.runIf(loopbackOnly())("closing a server peer closes the client's side", () => {
  const harness = withHarness();

  /** A client of `user` in "call" with two open data channels to the server's peer. */
  async function connectedPeer(app: TestApp, user: string) {
    const client = await harness.connect(`${app.wsUrl}?user=${user}`);
    await join(client, 'call');
    const peer = new SignalingPeer(client, 'call', 'server');
    harness.defer(() => peer.close());
    const channels = [
      peer.pc.createDataChannel('rt'),
      peer.pc.createDataChannel('rt-lossy', { ordered: false, maxRetransmits: 0 }),
    ];
    const greeted = channels.map((channel) => channel.onMessage.asPromise());
    await peer.offer();
    await peer.connected();
    await Promise.all(greeted); // rt:connected: each is a connection of the server
    const sctp = peer.pc.sctpTransport!;
    const dtls = sctp.dtlsTransport;
    // Watched from now on: each close is awaited after what causes it.
    const closes = {
      channels: Promise.all(channels.map((channel) => closed(channel, sctp))),
      dtls: dtls.onStateChange.watch((state) => state === 'closed'),
    };
    return { client, peer, channels, sctp, closes };
  }

  /** What the client's side shows once its channels and its DTLS transport have closed. */
  async function clientSide({ peer, channels, sctp, closes }: ClientPeer) {
    const sctpWhenChannelsClosed = await closes.channels;
    await closes.dtls;
    return {
      sctpWhenChannelsClosed,
      channels: channels.map((channel) => channel.readyState),
      sctp: sctp.sctp.state,
      errors: peer.errors,
    };
  }
  type ClientPeer = Awaited<ReturnType<typeof connectedPeer>>;

  // Each channel closed by its stream's reset, then the association and DTLS.
  const CLOSED = {
    sctpWhenChannelsClosed: ['connected', 'connected'],
    channels: ['closed', 'closed'],
    sctp: 'closed',
    errors: [],
  };

  it("rt:peer-leave: the client's channels, SCTP association and DTLS transport close", async () => {
    const app = await harness.start(OPTIONS);
    const side = await connectedPeer(app, 'lea');
    const other = await connectedPeer(app, 'ole');
    expect(app.hub.connections.count()).toBe(2 + 4);

    expect((await side.client.request('rt:peer-leave', { room: 'call' })).data).toBe(true);
    expect(await clientSide(side)).toEqual(CLOSED);
    await until(() => peersOf(app) === 1 && app.hub.connections.count() === 2 + 2, 5_000);
    // The other client's peer is untouched.
    expect(other.channels.map((channel) => channel.readyState)).toEqual(['open', 'open']);
    expect(other.sctp.sctp.state).toBe('connected');
    // (Left too: a client peer closed while its server peer waits for the resets'
    // confirmation would hold the app's shutdown for closeTimeout.)
    await other.client.request('rt:peer-leave', { room: 'call' });
    expect(await clientSide(other)).toEqual(CLOSED);
  });

  it('the WebSocket closing, and shutdown, close the client peers the same way', async () => {
    const app = await harness.start(OPTIONS);
    const leaving = await connectedPeer(app, 'wes');
    const staying = await connectedPeer(app, 'sam');

    await leaving.client.close();
    expect(await clientSide(leaving)).toEqual(CLOSED);
    await until(() => peersOf(app) === 1, 5_000);
    expect(staying.channels.map((channel) => channel.readyState)).toEqual(['open', 'open']);

    harness.forget(app);
    await app.close();
    expect(await clientSide(staying)).toEqual(CLOSED);
  });
});
