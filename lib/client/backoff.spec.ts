import { describe, expect, it } from 'vitest';
import { backoffDelay, resolveReconnectOptions } from './backoff.js';

describe('backoff', () => {
  const options = resolveReconnectOptions({ initialDelay: 100, maxDelay: 1_000, factor: 2 });

  it('grows the ceiling exponentially up to the cap, with full jitter below it', () => {
    const ceilings = [0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, options, () => 0.999_999));
    expect(ceilings).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffDelay(3, options, () => 0.5)).toBe(400);
    expect(backoffDelay(3, options, () => 0)).toBe(0);
  });

  it('spreads delays over the whole range', () => {
    const delays = Array.from({ length: 2_000 }, () => backoffDelay(2, options));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...delays)).toBeLessThan(400);
    const mean = delays.reduce((a, b) => a + b, 0) / delays.length;
    expect(mean).toBeGreaterThan(170);
    expect(mean).toBeLessThan(230);
  });

  it('has defaults, and refuses wrong options by name', () => {
    expect(resolveReconnectOptions()).toEqual({
      initialDelay: 500,
      maxDelay: 10_000,
      factor: 2,
      maxAttempts: Infinity,
    });
    expect(() => resolveReconnectOptions({ maxDelay: -1 })).toThrow(/reconnect.maxDelay/);
    expect(() => resolveReconnectOptions({ maxDelay: 2 ** 31 })).toThrow(/reconnect.maxDelay/);
    expect(() => resolveReconnectOptions({ factor: 0.5 })).toThrow(/reconnect.factor/);
    expect(() => resolveReconnectOptions({ factor: Infinity })).toThrow(/reconnect.factor/);
    expect(() => resolveReconnectOptions({ maxAttempts: 2.5 })).toThrow(/reconnect.maxAttempts/);
    expect(resolveReconnectOptions({ maxAttempts: Infinity, initialDelay: 0 }).initialDelay).toBe(
      0,
    );
    expect(() => resolveReconnectOptions({ maxAttempts: 0 })).toThrow(/reconnect.maxAttempts/);
    expect(() => resolveReconnectOptions({ initialDelay: Number.NaN })).toThrow(/initialDelay/);
    expect(() => resolveReconnectOptions({ delay: 1 } as never)).toThrow(
      /unknown reconnect option "delay"/,
    );
  });
});
