import type { RateLimitOptions } from './rate-limit.options.js';
import { TokenBucket } from './token-bucket.js';

/** The rate limit as the options resolve it: every field set. */
export type RateLimitPolicy = Readonly<Required<RateLimitOptions>>;

/**
 * What to do with what a client sent: `admit` it; `refuse` it (drop it unread);
 * `refuse-and-tell`, the first refusal of a run, which the client is told of
 * (RATE_LIMITED); `close`, the `maxRefused`-th refusal in a row, which ends the
 * connection (4003). A transport that answers every request (HTTP, unary gRPC)
 * answers each refusal alike.
 */
export type RateVerdict = 'admit' | 'refuse' | 'refuse-and-tell' | 'close';

/**
 * One client's rate limit, the same policy on every transport (docs/protocol.md,
 * "Rate limits"): token buckets of messages and of bytes, a run of refusals told
 * once, and closed after `maxRefused`.
 *
 * @example
 * ```ts
 * const limiter = RateLimiter.of(options.rateLimit);
 * if (limiter?.take(raw.length) === 'close') connection.close(CloseCode.RateLimited, 'rate limit exceeded');
 * ```
 */
export class RateLimiter {
  private readonly messages: TokenBucket;
  private readonly bytes: TokenBucket;
  /** Refusals in a row. */
  private refused = 0;

  constructor(
    private readonly policy: RateLimitPolicy,
    now = performance.now(),
  ) {
    this.messages = new TokenBucket(policy.messagesPerSecond, policy.messageBurst, now);
    this.bytes = new TokenBucket(policy.bytesPerSecond, policy.byteBurst, now);
  }

  /** A limiter for one client, or undefined when `rateLimit` is off. */
  static of(policy: RateLimitPolicy | false): RateLimiter | undefined {
    return policy ? new RateLimiter(policy) : undefined;
  }

  /** Takes one message of `size` bytes. */
  take(size: number, now = performance.now()): RateVerdict {
    if (this.bytes.take(size, now) && this.messages.take(1, now)) {
      this.refused = 0;
      return 'admit';
    }
    this.refused++;
    if (this.refused >= this.policy.maxRefused) return 'close';
    return this.refused === 1 ? 'refuse-and-tell' : 'refuse';
  }
}
