/**
 * Builds the bytes of an unmasked, unfragmented WebSocket text frame (RFC 6455
 * section 5.2) around a payload: the header, then the payload, in one buffer.
 */
export function frameText(payload: Buffer): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  payload.copy(frame, headerLength);
  return frame;
}

/**
 * Frames each payload once for all its recipients: a broadcast hands the same
 * payload to every connection in turn, so remembering the last one is enough.
 */
export class TextFramer {
  private payload: Buffer | undefined;
  private framed: Buffer | undefined;

  frame(payload: Buffer): Buffer {
    if (payload !== this.payload) {
      this.payload = payload;
      this.framed = frameText(payload);
    }
    return this.framed!;
  }
}
