import { describe, expect, it } from 'vitest';
import { resolveRateLimitOptions } from './rate-limit.options.js';

const WS = { maxPayload: 1 << 20 };

describe('resolveRateLimitOptions', () => {
  it('fills every default', () => {
    expect(resolveRateLimitOptions(undefined, WS)).toEqual({
      messagesPerSecond: 100,
      messageBurst: 200,
      bytesPerSecond: 1 << 20,
      byteBurst: 2 << 20,
      maxRefused: 100,
    });
  });

  it('turns the limits off', () => {
    expect(resolveRateLimitOptions(false, WS)).toBe(false);
  });

  it('takes any byte burst when the WebSocket transport is off, and one of its largest frame', () => {
    expect(resolveRateLimitOptions({ byteBurst: 1_000 }, false)).toMatchObject({
      byteBurst: 1_000,
    });
    expect(resolveRateLimitOptions({ byteBurst: 500 }, { maxPayload: 500 })).toBeTruthy();
  });

  it.each([
    [
      { byteBurst: 1_000 },
      '"rateLimit.byteBurst": expected at least websocket.maxPayload (1048576), or the largest frame could never pass, got 1000',
    ],
    [{ messagesPerSecond: 0 }, '"rateLimit.messagesPerSecond": expected a positive integer, got 0'],
    [{ messageBurst: 0 }, '"rateLimit.messageBurst": expected a positive integer, got 0'],
    [
      { bytesPerSecond: 0 },
      '"rateLimit.bytesPerSecond": expected a positive integer (bytes), got 0',
    ],
    [{ byteBurst: 0 }, '"rateLimit.byteBurst": expected a positive integer (bytes), got 0'],
    [{ maxRefused: 0 }, '"rateLimit.maxRefused": expected a positive integer, got 0'],
    [
      { q: 1 },
      '"rateLimit.q": expected one of the known options (messagesPerSecond, messageBurst, bytesPerSecond, byteBurst, maxRefused), got 1',
    ],
    [1, '"rateLimit": expected an object, got 1'],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveRateLimitOptions(given as never, WS)).toThrowError(error);
  });
});
