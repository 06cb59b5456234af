import { isPlainObject, ms, type Rule } from '../../options-check.js';

/**
 * The `engine` option that picks the Redis engine, for many nodes on one Redis
 * (ioredis, an optional peer dependency): `url`, ioredis options in `redis`, or
 * ioredis clients of your own (`client`, `subscriber`: see `RedisEngineOptions`), a
 * `prefix` for its keys and channels (default `rt:`), `shardedPubSub` (`'auto'`:
 * sharded pub/sub where the server is Redis 7 or later), and `startTimeout` (how long
 * start waits for Redis, default 5000 ms). Typed loosely, so that the
 * options do not need ioredis.
 *
 * @example
 * ```ts
 * engine: { type: 'redis', url: 'redis://redis:6379', prefix: 'chat:' }
 * ```
 */
export interface RedisEngineConfig {
  type: 'redis';
  url?: string;
  prefix?: string;
  redis?: Record<string, unknown>;
  /** An ioredis `Redis` client (typed loosely: ioredis is an optional dependency). */
  client?: object;
  /** An ioredis `Redis` client to subscribe on. */
  subscriber?: object;
  shardedPubSub?: boolean | 'auto';
  /** How long start waits for Redis to answer, in ms (default 5000). */
  startTimeout?: number;
  /** How long a call may wait for Redis before it is an outage, in ms (default 2000). */
  commandTimeout?: number;
}

/** What the Redis engine needs of a client it is given (an ioredis `Redis`). */
function isRedisClient(value: unknown): boolean {
  const client = value as Record<string, unknown> | null;
  return (
    typeof client === 'object' &&
    client !== null &&
    typeof client.duplicate === 'function' &&
    typeof client.evalsha === 'function' &&
    typeof client.status === 'string'
  );
}

/**
 * The checks of the Redis engine's options, but `type`.
 *
 * @example
 * ```ts
 * REDIS_ENGINE_RULES.url[0]('redis://localhost:6379'); // true
 * ```
 */
export const REDIS_ENGINE_RULES: Record<Exclude<keyof RedisEngineConfig, 'type'>, Rule> = {
  url: [(v) => typeof v === 'string' && /^rediss?:\/\//.test(v), 'a redis:// or rediss:// URL'],
  prefix: [(v) => typeof v === 'string', 'a string'],
  redis: [(v) => isPlainObject(v), 'an object (ioredis options)'],
  client: [isRedisClient, 'an ioredis client'],
  subscriber: [isRedisClient, 'an ioredis client'],
  shardedPubSub: [(v) => typeof v === 'boolean' || v === 'auto', "true, false or 'auto'"],
  startTimeout: ms,
  commandTimeout: ms,
};
