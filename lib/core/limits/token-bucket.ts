/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. Time comes from
 * the caller (performance.now() in ms), so one clock read serves several buckets.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes `count` tokens if there are that many; says whether it did. */
  take(count: number, now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.rate) / 1_000);
    this.last = now;
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }
}
