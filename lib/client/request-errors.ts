import { RealtimeClientError } from './client-types.js';

/**
 * The error of a frame sent after the client stopped for good.
 *
 * @example
 * ```ts
 * if (client.state === 'disconnected') throw closedError();
 * ```
 */
export function closedError(): RealtimeClientError {
  return new RealtimeClientError('CLOSED', 'the client is closed');
}

/**
 * The error of a request whose connection went before its reply (`code`: the close
 * code), or that needed one and there was none.
 *
 * @example
 * ```ts
 * pending.reject(lostError(1006)); // "the connection closed (1006): no reply"
 * ```
 */
export function lostError(code?: number): RealtimeClientError {
  const how = code === undefined ? 'is not connected' : `closed (${code})`;
  return new RealtimeClientError('CONNECTION_LOST', `the connection ${how}: no reply`);
}

/**
 * The error of a frame refused because the offline queue holds `size` frames already.
 *
 * @example
 * ```ts
 * if (queue.length >= max) throw queueFullError(max);
 * ```
 */
export function queueFullError(size: number): RealtimeClientError {
  return new RealtimeClientError(
    'OFFLINE_QUEUE_FULL',
    `the offline queue holds ${size} frames already`,
  );
}

/** The client's own codes: the server did not answer the request. */
const CLIENT_CODES = new Set([
  'TIMEOUT',
  'CLOSED',
  'CONNECTION_LOST',
  'OFFLINE_QUEUE_FULL',
  'TOO_MANY_REQUESTS',
]);

/**
 * Whether the server answered a request with a refusal.
 *
 * @example
 * ```ts
 * join.catch((error) => { if (refusedByServer(error)) subscription.end(error); });
 * ```
 */
export function refusedByServer(error: unknown): boolean {
  return error instanceof RealtimeClientError && !CLIENT_CODES.has(error.code);
}

/**
 * Whether a failed request surely changed nothing on the server: refused by it, or
 * never sent. One that timed out or lost its connection may have been applied.
 *
 * @example
 * ```ts
 * setStatus.catch((error) => { if (neverApplied(error)) status = previous; });
 * ```
 */
export function neverApplied(error: unknown): boolean {
  const code = (error as RealtimeClientError).code;
  return code !== 'TIMEOUT' && code !== 'CONNECTION_LOST';
}
