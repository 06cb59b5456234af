import { setImmediate as sent } from 'node:timers/promises';
import type { DtlsSocket, RTCPeerConnection, RTCSctpTransport } from 'werift';

/** A DTLS alert record's content type, and a close_notify warning (RFC 5246 §7.2.1). */
const ALERT = 21;
const CLOSE_NOTIFY = Buffer.from([1, 0]);

/**
 * Closes a werift peer connection so that the remote peer sees it at once: each data
 * channel reset (RFC 8831, the remote's fires `close`), the SCTP association aborted,
 * DTLS closed (close_notify), then ICE. werift's own `close()` stops DTLS and ICE
 * first, so its ABORT goes nowhere, and sends no close_notify: the remote learned
 * nothing until its ICE consent ran out. The reset waits until the remote has reset
 * its side of each channel too, `resetTimeout` ms at most (a remote that is gone never
 * does; the ABORT closes its channels then). A connection that is not connected has no
 * one to tell, and is closed at once.
 *
 * @example
 * ```ts
 * await closeGracefully(pc, 1_000); // the remote's channels are closed by now
 * ```
 */
export async function closeGracefully(pc: RTCPeerConnection, resetTimeout: number): Promise<void> {
  try {
    if (pc.connectionState === 'connected') await tellRemote(pc, resetTimeout);
  } finally {
    // Whatever telling the remote met, the connection and its sockets go.
    await pc.close();
  }
}

/** The channels' resets, the ABORT and the close_notify, sent before the sockets close. */
async function tellRemote(pc: RTCPeerConnection, resetTimeout: number): Promise<void> {
  const sctp = pc.sctpTransport;
  if (sctp?.sctp.state === 'connected') {
    await resetChannels(sctp, resetTimeout);
    await sctp.stop(); // sends the ABORT
  }
  for (const { dtls, state } of pc.dtlsTransports) {
    if (dtls && state === 'connected') await closeNotify(dtls);
  }
  // werift's UDP send resolves its destination on a later tick, and closing the
  // socket drops what has not gone out: the last step's bytes leave first.
  await sent();
}

/**
 * Resets every channel's stream, and waits until both directions of each are reset (or
 * the timeout): ours confirmed, and the remote's own, which it resets in turn (RFC 8831
 * §6.7); each is an onReconfigStreams of the association. Until then the remote's
 * channel is `closing`, and an ABORT would close it with an error.
 */
async function resetChannels(sctp: RTCSctpTransport, timeout: number): Promise<void> {
  const association = sctp.sctp;
  const channels = Object.values(sctp.dataChannels).filter(
    ({ readyState }) => readyState !== 'closed',
  );
  const directions = new Map(channels.map(({ id }) => [id, 2]));
  if (directions.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  let listener: { unSubscribe(): void } | undefined;
  await new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeout);
    listener = association.onReconfigStreams.subscribe((streams) => {
      for (const id of streams) {
        const left = directions.get(id);
        if (left === 1) directions.delete(id);
        else if (left !== undefined) directions.set(id, left - 1);
      }
      if (directions.size === 0) resolve();
    });
    for (const channel of channels) channel.close();
    // Chromium (dcSCTP, 156) ignores the first RE-CONFIG chunk werift sends it and
    // answers a retransmission at once, which werift makes only after its RTO (1-3 s).
    // A request sent twice is answered twice (RFC 6525 §5.2.1): harmless.
    const { reconfigRequest } = association;
    if (reconfigRequest) void association.sendReconfigParam(reconfigRequest);
  });
  clearTimeout(timer);
  listener?.unSubscribe();
}

/**
 * Sends a close_notify alert, encrypted as the socket's application data is (werift
 * has no call for it: RTCDtlsTransport.stop() only stops ICE).
 */
async function closeNotify(socket: DtlsSocket): Promise<void> {
  const { dtls, cipher } = socket;
  const header = {
    contentType: ALERT,
    protocolVersion: dtls.version,
    epoch: dtls.epoch,
    sequenceNumber: ++dtls.recordSequenceNumber,
    contentLen: CLOSE_NOTIFY.length,
  };
  type Plaintext = Parameters<typeof cipher.encryptPacket>[0];
  const record = { recordLayerHeader: header, fragment: CLOSE_NOTIFY } as Plaintext;
  const { fragment } = cipher.encryptPacket(record);
  // The record header of RFC 6347 §4.1: type, version, epoch, 48-bit sequence, length.
  const packet = Buffer.alloc(13 + fragment.length);
  packet.writeUInt8(header.contentType, 0);
  packet.writeUInt8(header.protocolVersion.major, 1);
  packet.writeUInt8(header.protocolVersion.minor, 2);
  packet.writeUInt16BE(header.epoch, 3);
  packet.writeUIntBE(header.sequenceNumber, 5, 6);
  packet.writeUInt16BE(fragment.length, 11);
  fragment.copy(packet, 13);
  await socket.transport.send(packet);
}
