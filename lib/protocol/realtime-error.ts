import type { ErrorCode } from './codes.js';

/**
 * An error with a stable {@link ErrorCode}. The hub throws it; transports turn it
 * into an error frame, an error reply or a status of their own protocol.
 *
 * @example
 * ```ts
 * try {
 *   await hub.join(connection, name);
 * } catch (err) {
 *   if (err instanceof RealtimeError && err.code === ErrorCode.RoomLimitReached) { ... }
 * }
 * ```
 */
export class RealtimeError extends Error {
  override readonly name = 'RealtimeError';

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
