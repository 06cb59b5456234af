import { LastSequence } from '../last-sequence.js';

/** The length of a server (unmasked) frame's header for a payload of `length` bytes. */
function headerLength(length: number): number {
  return length < 126 ? 2 : length < 65_536 ? 4 : 10;
}

/** Writes the header of an unfragmented text frame of `length` bytes at `at`; returns its end. */
function writeHeader(frame: Buffer, at: number, length: number): number {
  frame[at] = 0x81; // FIN + opcode 1 (text)
  if (length < 126) {
    frame[at + 1] = length;
    return at + 2;
  }
  if (length < 65_536) {
    frame[at + 1] = 126;
    frame.writeUInt16BE(length, at + 2);
    return at + 4;
  }
  frame[at + 1] = 127;
  frame.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2);
  frame.writeUInt32BE(length >>> 0, at + 6);
  return at + 10;
}

/**
 * Builds the bytes of unmasked, unfragmented WebSocket text frames (RFC 6455
 * section 5.2), one per payload, back to back in one buffer.
 */
export function frameText(payloads: readonly Buffer[]): Buffer {
  let size = 0;
  for (const payload of payloads) size += headerLength(payload.length) + payload.length;
  const frames = Buffer.allocUnsafe(size);
  let at = 0;
  for (const payload of payloads) {
    at = writeHeader(frames, at, payload.length);
    at += payload.copy(frames, at);
  }
  return frames;
}

const BATCH_HEAD = Buffer.from('{"event":"rt:batch","data":[');
const BATCH_COMMA = Buffer.from(',');
const BATCH_TAIL = Buffer.from(']}');

/** One `rt:batch` text frame whose items are these payloads, in order. */
function batchFrame(payloads: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [BATCH_HEAD];
  for (const [i, payload] of payloads.entries()) {
    if (i > 0) parts.push(BATCH_COMMA);
    parts.push(payload);
  }
  parts.push(BATCH_TAIL);
  return frameText([Buffer.concat(parts)]);
}

/**
 * Frames each tick's payloads once for all their recipients. A broadcast hands the
 * same payloads, in the same order, to every member of a room in turn, so
 * remembering the last sequence (by identity: nothing is compared byte by byte) is
 * enough for all of them to share one buffer and one write each.
 */
export class TextFramer {
  private readonly plain = new LastSequence();
  private readonly batched = new LastSequence();

  /** The tick's payloads as plain text frames, one per payload, in one buffer. */
  frames(payloads: readonly Buffer[]): Buffer {
    return this.plain.bytesOf(payloads, frameText);
  }

  /**
   * One `rt:batch` text frame holding these payloads (each a JSON object) as its
   * items, in order; a single payload goes as its own frame. The items are the
   * payloads' bytes as they are: nothing is encoded again.
   */
  batch(payloads: readonly Buffer[]): Buffer {
    if (payloads.length === 1) return this.frames(payloads);
    return this.batched.bytesOf(payloads, batchFrame);
  }
}
