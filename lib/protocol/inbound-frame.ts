import { ErrorCode } from './codes.js';
import { MAX_EVENT_LENGTH, MAX_ID_LENGTH } from './limits.js';

/** A request id as a client may send it. */
export type FrameId = string | number;

/**
 * A client frame that passed the shape checks.
 *
 * @example
 * ```ts
 * const parsed = parseInboundFrame('{"event":"rt:join","data":{"room":"a"},"id":1}');
 * if ('frame' in parsed) console.log(parsed.frame.event);
 * ```
 */
export interface InboundFrame {
  readonly event: string;
  readonly data: unknown;
  readonly id: FrameId | undefined;
  /** Only in a client's `rt:reply` to a server call. */
  readonly error?: unknown;
}

/** Why a frame was refused, with whatever of it could still be read. */
export interface FrameRejection {
  readonly code: ErrorCode;
  readonly message: string;
  readonly id?: FrameId;
  readonly event?: string;
}

function readId(value: unknown): FrameId | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH) return value;
  if (Number.isSafeInteger(value)) return value as number;
  return null;
}

/**
 * Parses and checks one client frame: a JSON object with a string `event`, any
 * `data`, and an optional `id` (a safe integer, or a string of 1 to 64 characters).
 * Never throws: a bad frame becomes a rejection carrying a documented code.
 */
export function parseInboundFrame(
  text: string,
): { frame: InboundFrame } | { rejected: FrameRejection } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { rejected: { code: ErrorCode.BadFrame, message: 'frame is not valid JSON' } };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { rejected: { code: ErrorCode.BadFrame, message: 'frame must be a JSON object' } };
  }
  const { event, data, id: rawId, error } = value as Record<string, unknown>;
  const id = readId(rawId);
  const eventOk = typeof event === 'string' && event.length > 0 && event.length <= MAX_EVENT_LENGTH;
  if (id === null) {
    return {
      rejected: {
        code: ErrorCode.BadFrame,
        message: `id must be a safe integer or a string of 1 to ${MAX_ID_LENGTH} characters`,
        event: eventOk ? event : undefined,
      },
    };
  }
  if (!eventOk) {
    return {
      rejected: {
        code: ErrorCode.BadFrame,
        message: `event must be a non-empty string of at most ${MAX_EVENT_LENGTH} characters`,
        id,
      },
    };
  }
  return { frame: error === undefined ? { event, data, id } : { event, data, id, error } };
}
