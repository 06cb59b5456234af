import { describe, expect, it } from 'vitest';
import { resolveDeliveryOptions } from './delivery.options.js';

const MS = 'a positive integer (ms, at most 2147483647)';

describe('resolveDeliveryOptions', () => {
  it('fills every default', () => {
    expect(resolveDeliveryOptions(undefined)).toEqual({
      ackTimeout: 1_000,
      maxBackoff: 30_000,
      maxAttempts: 5,
      ttl: 60_000,
      maxPendingPerUser: 100,
    });
  });

  it.each([
    [{ ackTimeout: 0 }, `"delivery.ackTimeout": expected ${MS}, got 0`],
    [{ maxBackoff: 0 }, `"delivery.maxBackoff": expected ${MS}, got 0`],
    [{ ttl: 0 }, `"delivery.ttl": expected ${MS}, got 0`],
    [{ maxAttempts: 0 }, '"delivery.maxAttempts": expected a positive integer, got 0'],
    [{ maxPendingPerUser: 0 }, '"delivery.maxPendingPerUser": expected a positive integer, got 0'],
    [
      { q: 1 },
      '"delivery.q": expected one of the known options (ackTimeout, maxBackoff, maxAttempts, ttl, maxPendingPerUser), got 1',
    ],
    [1, '"delivery": expected an object, got 1'],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveDeliveryOptions(given as never)).toThrowError(error);
  });
});
