import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { REDIS_BINARY, startRedis, type RedisServer } from '../../bench/redis.js';
import { skipLoudly } from './fixtures.js';

// One way to run a redis-server for tests and the bench alike.
export { startRedis, type RedisServer } from '../../bench/redis.js';

/**
 * Whether redis-server is here. Without it, Redis tests skip with a loud message;
 * with CI=true its absence fails them (CI installs it).
 */
export function redisAvailable(): boolean {
  if (REDIS_BINARY) return true;
  return skipLoudly('redis-server is not installed: the Redis engine tests are SKIPPED');
}

/** Whether the redis-server here has sharded pub/sub (Redis 7); loud when it does not. */
export function redisHasShardedPubSub(): boolean {
  if (!REDIS_BINARY) return false;
  const version = /v=(\d+)/.exec(execFileSync(REDIS_BINARY, ['--version'], { encoding: 'utf8' }));
  if (Number(version?.[1]) >= 7) return true;
  return skipLoudly('redis-server is older than 7: the sharded pub/sub tests are SKIPPED');
}

/**
 * A redis-server of the enclosing describe (when `wanted`): started before its tests,
 * stopped after them. The function returns it, inside a test or hook.
 */
export function redisForSuite(wanted = true): () => RedisServer {
  let server: RedisServer | undefined;
  beforeAll(async () => {
    if (wanted) server = await startRedis();
  });
  afterAll(() => server?.stop());
  return () => {
    if (!server) throw new Error('no redis-server was started for this suite');
    return server;
  };
}
