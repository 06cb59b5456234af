import { MAX_TIMER_DELAY } from '../protocol/limits.js';
import {
  resolveReconnectOptions,
  type ReconnectOptions,
  type ResolvedReconnectOptions,
} from './backoff.js';
import type { WebSocketConstructor } from './client-types.js';

/**
 * Options of {@link RealtimeClient}.
 *
 * @example
 * ```ts
 * import { WebSocket } from 'ws';
 * const client = new RealtimeClient('ws://localhost:3000/ws', {
 *   WebSocket,
 *   requestTimeout: 5_000,
 *   reconnect: { maxDelay: 30_000 },
 *   offlineQueue: 500,
 * });
 * ```
 */
export interface RealtimeClientOptions {
  /** The WebSocket constructor; defaults to `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** How long a request waits for its reply, in ms, queued time included. Default 10000. */
  requestTimeout?: number;
  /** Requests that may wait for replies at once (sent or queued); more are refused. Default 1000. */
  maxPendingRequests?: number;
  /** How to reconnect, or `false` to stop at the first close. Default: on, see {@link ReconnectOptions}. */
  reconnect?: ReconnectOptions | false;
  /** How long an attempt may take from the socket's creation to `rt:connected`, in ms. Default 10000. */
  connectTimeout?: number;
  /**
   * Frames (`emit`, `request`, `publish`, `call`, ...) kept while the client is not
   * connected, sent in order once it is; past this many, new ones fail with
   * `OFFLINE_QUEUE_FULL`. 0 refuses every frame while offline. Default 100.
   */
  offlineQueue?: number;
}

/**
 * The options with their defaults, checked.
 *
 * @example
 * ```ts
 * const { requestTimeout } = resolveClientOptions({}); // 10000
 * ```
 */
export interface ResolvedClientOptions {
  readonly WebSocket: WebSocketConstructor;
  readonly requestTimeout: number;
  readonly maxPendingRequests: number;
  readonly reconnect: ResolvedReconnectOptions | false;
  readonly connectTimeout: number;
  readonly offlineQueue: number;
}

/**
 * Fills in the defaults and checks the values.
 *
 * @throws RangeError naming the wrong option.
 * @example
 * ```ts
 * resolveClientOptions({ offlineQueue: 0 }).offlineQueue; // 0
 * ```
 */
export function resolveClientOptions(options: RealtimeClientOptions): ResolvedClientOptions {
  return {
    WebSocket: options.WebSocket ?? globalThis.WebSocket,
    requestTimeout: checkedTimeout('requestTimeout', options.requestTimeout, 10_000),
    maxPendingRequests: checked('maxPendingRequests', options.maxPendingRequests, 1_000, 1),
    reconnect: options.reconnect === false ? false : resolveReconnectOptions(options.reconnect),
    connectTimeout: checkedTimeout('connectTimeout', options.connectTimeout, 10_000),
    offlineQueue: checked('offlineQueue', options.offlineQueue, 100, 0),
  };
}

/**
 * A timeout in ms, or its default: a whole number from 1 to the longest a timer waits.
 *
 * @throws RangeError naming it.
 * @example
 * ```ts
 * checkedTimeout('timeout', given, 10_000);
 * ```
 */
export function checkedTimeout(name: string, value: number | undefined, fallback: number): number {
  return checked(name, value, fallback, 1, MAX_TIMER_DELAY);
}

/** An option's value, or its default; a wrong one throws, naming it. */
function checked(
  name: string,
  value: number | undefined,
  fallback: number,
  least: number,
  most = Infinity,
): number {
  if (value === undefined) return fallback;
  const whole = Number.isInteger(value) || value === Infinity;
  if (typeof value !== 'number' || !whole || value < least || value > most) {
    throw new RangeError(
      `${name} must be an integer from ${least} to ${most}, got ${String(value)}`,
    );
  }
  return value;
}
