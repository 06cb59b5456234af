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

const BATCH_HEAD = Buffer.from('{"event":"rt:batch","data":[');
const BATCH_COMMA = Buffer.from(',');
const BATCH_TAIL = Buffer.from(']}');

/**
 * Frames each payload once for all its recipients: a broadcast hands the same
 * payload to every connection in turn, so remembering the last one is enough.
 * Likewise for a tick's frames gathered into one `rt:batch`: the members of a room
 * all get the same sequence, so the last sequence is remembered.
 */
export class TextFramer {
  private payload: Buffer | undefined;
  private framed: Buffer | undefined;
  private sequence: readonly Buffer[] = [];
  private batched: Buffer | undefined;

  frame(payload: Buffer): Buffer {
    if (payload !== this.payload) {
      this.payload = payload;
      this.framed = frameText(payload);
    }
    return this.framed!;
  }

  /**
   * One `rt:batch` text frame holding these frames (each a JSON object) as its
   * items, in order. The items are the frames' bytes as they are: nothing is
   * encoded again.
   */
  batch(frames: readonly Buffer[]): Buffer {
    if (!sameFrames(frames, this.sequence)) {
      this.sequence = [...frames];
      const parts: Buffer[] = [BATCH_HEAD];
      frames.forEach((frame, i) => parts.push(...(i === 0 ? [frame] : [BATCH_COMMA, frame])));
      parts.push(BATCH_TAIL);
      this.batched = frameText(Buffer.concat(parts));
    }
    return this.batched!;
  }
}

function sameFrames(a: readonly Buffer[], b: readonly Buffer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
