import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.js';

const policy = {
  messagesPerSecond: 10,
  messageBurst: 2,
  bytesPerSecond: 1_000,
  byteBurst: 100,
  maxRefused: 3,
};

describe('RateLimiter', () => {
  it('admits a burst, tells the first refusal of a run, and closes at maxRefused', () => {
    const limiter = new RateLimiter(policy, undefined, 0);
    expect([limiter.take(1, 0), limiter.take(1, 0)]).toEqual(['admit', 'admit']);
    expect([limiter.take(1, 0), limiter.take(1, 0), limiter.take(1, 0)]).toEqual([
      'refuse-and-tell',
      'refuse',
      'close',
    ]);
  });

  it('starts a new run once a message is admitted again', () => {
    const limiter = new RateLimiter(policy, undefined, 0);
    limiter.take(1, 0);
    limiter.take(1, 0);
    expect(limiter.take(1, 0)).toBe('refuse-and-tell');
    expect(limiter.take(1, 100)).toBe('admit'); // 100 ms: one message's token back
    expect(limiter.take(1, 100)).toBe('refuse-and-tell');
  });

  it('counts bytes too', () => {
    const limiter = new RateLimiter(policy, undefined, 0);
    expect(limiter.take(101, 0)).toBe('refuse-and-tell');
    expect(limiter.take(100, 0)).toBe('admit');
  });

  it("saves up at most the burst, and takes a message's bytes all at once or not at all", () => {
    const limiter = new RateLimiter(policy, undefined, 0);
    expect(limiter.take(60, 0)).toBe('admit');
    expect(limiter.take(60, 0)).toBe('refuse-and-tell'); // 40 bytes left
    expect(limiter.take(40, 0)).toBe('admit');
    // 10 s later: 2 messages and 100 bytes saved, no more.
    expect([limiter.take(1, 10_000), limiter.take(1, 10_000)]).toEqual(['admit', 'admit']);
    expect(limiter.take(1, 10_000)).toBe('refuse-and-tell');
    expect(limiter.take(99, 10_099)).toBe('refuse'); // 0.99 of a message token
  });

  it('is off when the policy is', () => {
    expect(RateLimiter.of(false)).toBeUndefined();
    expect(RateLimiter.of(policy)).toBeInstanceOf(RateLimiter);
  });
});
