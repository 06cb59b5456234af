import {
  bytes,
  positiveInteger,
  RealtimeConfigError,
  resolveGroup,
  type Rule,
} from '../../options-check.js';

/**
 * Per-connection rate limits on what clients send, built-in events and the app's
 * handlers alike: token buckets of frames and of bytes. A frame over the limit is
 * dropped unread (the first of a run gets a `RATE_LIMITED` error frame); after
 * `maxRefused` drops in a row the connection is closed with 4003.
 *
 * @example
 * ```ts
 * rateLimit: { messagesPerSecond: 20, messageBurst: 40 }
 * ```
 */
export interface RateLimitOptions {
  /** Frames a second, over time. Default 100. */
  messagesPerSecond?: number;
  /** Frames at once. Default 200. */
  messageBurst?: number;
  /** Bytes a second, over time. Default 1 MiB. */
  bytesPerSecond?: number;
  /** Bytes at once; at least `websocket.maxPayload`. Default 2 MiB. */
  byteBurst?: number;
  /** Frames dropped in a row before the connection is closed. Default 100. */
  maxRefused?: number;
}

/**
 * The rate limits after defaults and checks.
 *
 * @example
 * ```ts
 * const limits: ResolvedRateLimitOptions | false = resolveRateLimitOptions({}, false);
 * ```
 */
export type ResolvedRateLimitOptions = Readonly<Required<RateLimitOptions>>;

/**
 * The rate limits unless told otherwise.
 *
 * @example
 * ```ts
 * RATE_LIMIT_DEFAULTS.messagesPerSecond; // 100
 * ```
 */
export const RATE_LIMIT_DEFAULTS: ResolvedRateLimitOptions = {
  messagesPerSecond: 100,
  messageBurst: 200,
  bytesPerSecond: 1 << 20,
  byteBurst: 2 << 20,
  maxRefused: 100,
};

const RULES: Record<keyof RateLimitOptions, Rule> = {
  messagesPerSecond: positiveInteger,
  messageBurst: positiveInteger,
  bytesPerSecond: bytes,
  byteBurst: bytes,
  maxRefused: positiveInteger,
};

/**
 * The `rateLimit` options with defaults, checked; false for no limits. The byte burst
 * must let the largest frame the WebSocket transport takes (`websocket`, resolved;
 * false when off) through.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolveRateLimitOptions({ messagesPerSecond: 20 }, { maxPayload: 1 << 20 });
 * ```
 */
export function resolveRateLimitOptions(
  given: RateLimitOptions | false | undefined,
  websocket: { readonly maxPayload: number } | false,
): ResolvedRateLimitOptions | false {
  if (given === false) return false;
  const rateLimit = resolveGroup('rateLimit', given, RULES, RATE_LIMIT_DEFAULTS);
  if (websocket && rateLimit.byteBurst < websocket.maxPayload) {
    throw new RealtimeConfigError(
      'rateLimit.byteBurst',
      `at least websocket.maxPayload (${websocket.maxPayload}), or the largest frame could never pass`,
      rateLimit.byteBurst,
    );
  }
  return rateLimit;
}
