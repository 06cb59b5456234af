import { describe, expect, it } from 'vitest';
import { resolveEngineOptions } from './engine.options.js';

const REDIS_KEYS =
  'type, url, prefix, redis, client, subscriber, shardedPubSub, startTimeout, commandTimeout';

describe('resolveEngineOptions', () => {
  it('is the memory engine unless set, and keeps what is given', () => {
    expect(resolveEngineOptions(undefined)).toEqual({ type: 'memory' });
    const redis = {
      type: 'redis',
      url: 'redis://x',
      prefix: 'p',
      redis: {},
      shardedPubSub: 'auto',
    } as const;
    expect(resolveEngineOptions(redis)).toBe(redis);
  });

  it('takes an ioredis client by what the engine uses of it', () => {
    const client = { duplicate: () => client, evalsha: () => 0, status: 'ready' };
    expect(resolveEngineOptions({ type: 'redis', client, subscriber: client })).toMatchObject({
      client,
    });
  });

  it.each([
    [{ type: 'mongo' }, '"engine.type": expected one of "memory", "redis", "custom", got "mongo"'],
    [{}, '"engine.type": expected one of "memory", "redis", "custom", got undefined'],
    ['memory', '"engine": expected an object, got "memory"'],
    [{ type: 'memory', shared: '' }, '"engine.shared": expected a non-empty string, got ""'],
    [{ type: 'memory', shared: 3 }, '"engine.shared": expected a non-empty string, got 3'],
    [
      { type: 'memory', url: 'x' },
      '"engine.url": expected one of the known options (type, shared), got "x"',
    ],
    [
      { type: 'redis', url: 'http://x' },
      '"engine.url": expected a redis:// or rediss:// URL, got "http://x"',
    ],
    [
      { type: 'redis', url: undefined },
      '"engine.url": expected a redis:// or rediss:// URL, got undefined',
    ],
    [
      { type: 'redis', shared: 'x' },
      `"engine.shared": expected one of the known options (${REDIS_KEYS}), got "x"`,
    ],
    [{ type: 'redis', prefix: 3 }, '"engine.prefix": expected a string, got 3'],
    [
      { type: 'redis', redis: [] },
      '"engine.redis": expected an object (ioredis options), got an array',
    ],
    [
      { type: 'redis', client: {} },
      '"engine.client": expected an ioredis client, got [object Object]',
    ],
    [{ type: 'redis', subscriber: 1 }, '"engine.subscriber": expected an ioredis client, got 1'],
    [
      { type: 'redis', shardedPubSub: 'x' },
      `"engine.shardedPubSub": expected true, false or 'auto', got "x"`,
    ],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveEngineOptions(given as never)).toThrowError(error);
  });
});
