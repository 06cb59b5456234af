// A hostile client of the server's peer: what it sends below the data channel API
// (raw SCTP control messages) must not end the server's process.
import type { RTCDataChannel } from 'werift';
import { describe, expect, it } from 'vitest';
import { join, until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { LOOPBACK_WEBRTC, SignalingPeer, loopbackOnly } from '../../support/webrtc.js';

/** The SCTP payload protocol of data channel control messages, and its ACK message. */
const WEBRTC_DCEP = 50;
const DATA_CHANNEL_ACK = 2;

describe.runIf(loopbackOnly())('a hostile client of the server peer', () => {
  const harness = withHarness();

  it('cannot make werift reject unhandled with a control message for no channel', async () => {
    const rejections: unknown[] = [];
    const record = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', record);
    harness.defer(() => process.off('unhandledRejection', record));
    const app = await harness.start({ authenticate: userFromQuery, webrtc: LOOPBACK_WEBRTC });
    const eve = await harness.connect(`${app.wsUrl}?user=eve`);
    await join(eve, 'game');
    const peer = new SignalingPeer(eve, 'game', 'server');
    harness.defer(() => peer.close());
    const channel: RTCDataChannel = peer.pc.createDataChannel('rt');
    const frames: string[] = [];
    channel.onMessage.subscribe((data) => frames.push(data.toString()));
    await peer.offer();
    await peer.connected();
    await until(() => frames.length > 0, 5_000);
    // An ACK of a channel the server never opened, straight on the SCTP association.
    const sctp = (peer.pc.sctpTransport as unknown as { sctp: any }).sctp;
    await sctp.send(999, WEBRTC_DCEP, Buffer.from([DATA_CHANNEL_ACK]), { ordered: true });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(rejections).toEqual([]);
    // The channel still serves.
    channel.send(JSON.stringify({ event: 'rt:join', data: { room: 'game' }, id: 1 }));
    await until(() => frames.some((frame) => JSON.parse(frame).id === 1), 5_000);
  });
});
