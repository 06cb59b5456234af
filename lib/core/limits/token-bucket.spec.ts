import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('allows a burst, then the rate', () => {
    const bucket = new TokenBucket(10, 3, 0);
    expect([1, 2, 3, 4].map(() => bucket.take(1, 0))).toEqual([true, true, true, false]);
    expect(bucket.take(1, 99)).toBe(false); // 0.99 of a token
    expect(bucket.take(1, 100)).toBe(true);
    expect(bucket.take(1, 10_000)).toBe(true);
    expect(bucket.take(3, 10_000)).toBe(false); // never more than the burst saved
  });

  it('takes several tokens at once, or none', () => {
    const bucket = new TokenBucket(1_000, 100, 0);
    expect(bucket.take(60, 0)).toBe(true);
    expect(bucket.take(60, 0)).toBe(false);
    expect(bucket.take(40, 0)).toBe(true);
  });
});
