import { ErrorCode } from './codes.js';
import { BUILTIN_EVENT_PREFIX } from './events.js';
import { MAX_EVENT_LENGTH } from './limits.js';
import { RealtimeError } from './realtime-error.js';

/**
 * A message as user code emits it: an event name and a JSON-serialisable payload.
 *
 * @example
 * ```ts
 * const messages: OutboundMessage[] = [{ event: 'tick', data: 1 }, { event: 'tick', data: 2 }];
 * await hub.to('clock').emitBatch(messages);
 * ```
 */
export interface OutboundMessage {
  readonly event: string;
  readonly data?: unknown;
}

/**
 * Serialises a frame once, to the bytes every recipient is sent. A Buffer (not a
 * string) so that ws writes it as is, without encoding it again per socket.
 *
 * @example
 * ```ts
 * const frame = encodeFrame({ event: 'tick', data: 1 });
 * for (const connection of hub.connections.list()) connection.send(frame);
 * ```
 */
export function encodeFrame(frame: object): Buffer {
  return Buffer.from(JSON.stringify(frame));
}

/**
 * Checks an event name that user code emits: a non-empty string of at most
 * {@link MAX_EVENT_LENGTH} characters, outside the reserved `rt:` prefix.
 *
 * @throws RealtimeError with code INVALID_DATA.
 */
export function assertUserEvent(event: unknown): asserts event is string {
  if (typeof event !== 'string' || event.length === 0 || event.length > MAX_EVENT_LENGTH) {
    throw new RealtimeError(
      ErrorCode.InvalidData,
      `event must be a non-empty string of at most ${MAX_EVENT_LENGTH} characters`,
    );
  }
  if (event.startsWith(BUILTIN_EVENT_PREFIX)) {
    throw new RealtimeError(
      ErrorCode.InvalidData,
      `events starting with "${BUILTIN_EVENT_PREFIX}" are reserved`,
    );
  }
}
