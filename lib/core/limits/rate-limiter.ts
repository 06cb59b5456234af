import type { RateLimitOptions } from './rate-limit.options.js';

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
 * A client's rate limit as it stands: the tokens left in each bucket, and the frames
 * refused in a row.
 *
 * @example
 * ```ts
 * const { messages, bytes, refusedInARow }: RateLimitState = limiter.state();
 * ```
 */
export interface RateLimitState {
  readonly messages: number;
  readonly bytes: number;
  readonly refusedInARow: number;
}

/**
 * One client's rate limit, the same policy on every transport (docs/protocol.md,
 * "Rate limits"): token buckets of messages and of bytes (`rate` tokens a second, at
 * most `burst` saved up), a run of refusals told once, and closed after `maxRefused`.
 * The two buckets are two numbers with one clock, not objects: every open connection
 * has one of these.
 *
 * @example
 * ```ts
 * const limiter = RateLimiter.of(options.rateLimit, metrics.framesDropped.cell('websocket', 'rate_limited'));
 * if (limiter?.take(raw.length) === 'close') connection.close(CloseCode.RateLimited, 'rate limit exceeded');
 * ```
 */
export class RateLimiter {
  /** Tokens in the bucket of messages, and in that of bytes, as of `last`. */
  private messages: number;
  private bytes: number;
  /** When both buckets were last filled up (performance.now(), ms). */
  private last: number;
  /** Refusals in a row. */
  private refused = 0;

  constructor(
    private readonly policy: RateLimitPolicy,
    /** Where refusals are counted (`realtime_frames_dropped_total{reason="rate_limited"}`). */
    private readonly refusals: { value: number } = { value: 0 },
    now = performance.now(),
  ) {
    this.messages = policy.messageBurst;
    this.bytes = policy.byteBurst;
    this.last = now;
  }

  /** A limiter for one client, or undefined when `rateLimit` is off. */
  static of(
    policy: RateLimitPolicy | false,
    refusals?: { value: number },
  ): RateLimiter | undefined {
    return policy ? new RateLimiter(policy, refusals) : undefined;
  }

  /** The buckets now (refilled to `now`, nothing taken), and the refusals in a row. */
  state(now = performance.now()): RateLimitState {
    const { policy } = this;
    const elapsed = (now - this.last) / 1_000;
    return {
      messages: Math.min(policy.messageBurst, this.messages + elapsed * policy.messagesPerSecond),
      bytes: Math.min(policy.byteBurst, this.bytes + elapsed * policy.bytesPerSecond),
      refusedInARow: this.refused,
    };
  }

  /**
   * Takes one message of `size` bytes: its bytes if there are that many, then one
   * message token if there is one (bytes taken stay taken when there is not).
   */
  take(size: number, now = performance.now()): RateVerdict {
    const { policy } = this;
    const elapsed = (now - this.last) / 1_000;
    this.last = now;
    this.bytes = Math.min(policy.byteBurst, this.bytes + elapsed * policy.bytesPerSecond);
    this.messages = Math.min(
      policy.messageBurst,
      this.messages + elapsed * policy.messagesPerSecond,
    );
    if (this.bytes >= size) {
      this.bytes -= size;
      if (this.messages >= 1) {
        this.messages -= 1;
        this.refused = 0;
        return 'admit';
      }
    }
    this.refused++;
    this.refusals.value++;
    if (this.refused >= policy.maxRefused) return 'close';
    return this.refused === 1 ? 'refuse-and-tell' : 'refuse';
  }
}
