import { BuiltinEvent } from '../../protocol/index.js';

/** What an SSE stream needs to know of an encoded frame. */
export interface FrameInfo {
  /** The SSE `event` field: the frame's event, without CR or LF. */
  readonly event: string;
  readonly room?: string;
  readonly offset?: number;
  readonly epoch?: string;
  /** The id to acknowledge it with, for a message sent with acknowledged delivery. */
  readonly ack?: string;
  /** A server-to-client call: a one-way stream cannot answer it. */
  readonly call: boolean;
}

/** One read per frame, however many streams it goes to (the hub hands them the same buffer). */
const read = new WeakMap<Buffer, FrameInfo | null>();

/**
 * Reads an encoded frame's event and place in its room; `null` for bytes that are
 * not a frame.
 *
 * @example
 * ```ts
 * frameInfo(Buffer.from('{"event":"chat","data":1,"room":"r","offset":3,"epoch":"E"}'));
 * // { event: 'chat', room: 'r', offset: 3, epoch: 'E', call: false }
 * ```
 */
export function frameInfo(frame: Buffer): FrameInfo | null {
  let info = read.get(frame);
  if (info !== undefined) return info;
  info = null;
  try {
    const parsed = JSON.parse(frame.toString('utf8')) as Record<string, unknown>;
    if (typeof parsed?.event === 'string') {
      const { room, offset, epoch } = parsed;
      const placed = typeof room === 'string' && Number.isSafeInteger(offset);
      info = {
        event: parsed.event.replace(/[\r\n]/g, ''),
        ...(typeof room === 'string' && { room }),
        ...(placed && typeof epoch === 'string' && { offset: offset as number, epoch }),
        ...(typeof parsed.ack === 'string' && { ack: parsed.ack }),
        call: parsed.event === BuiltinEvent.Call,
      };
    }
  } catch {
    // not JSON: not a frame
  }
  read.set(frame, info);
  return info;
}
