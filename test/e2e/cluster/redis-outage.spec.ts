// Redis going away and coming back under a running node: the node keeps its
// clients, reports the outage (health, errors, logs), and recovers by itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient, RealtimeClientError } from '../../../lib/client/index.js';
import { startApp, type TestApp } from '../../support/app.js';
import { until, userFromQuery } from '../../support/fixtures.js';
import { redisAvailable, startRedis, type RedisServer } from '../../support/redis.js';

describe.runIf(redisAvailable())('a Redis outage', () => {
  let redis: RedisServer;
  let app: TestApp;
  beforeAll(async () => {
    redis = await startRedis();
    app = await startApp({
      authenticate: userFromQuery,
      engine: { type: 'redis', url: redis.url },
      history: { maxCount: 100 },
    });
  });
  afterAll(async () => {
    await app.close();
    await redis.stop();
  });

  it('keeps the clients, refuses what needs Redis with an error, and recovers when Redis is back', async () => {
    const client = new RealtimeClient(`${app.wsUrl}?user=olga`, { WebSocket });
    const room = await client.join('r', { recover: true });
    const resyncs: unknown[] = [];
    room.onResync((info) => resyncs.push(info));
    const seen: unknown[] = [];
    room.on('m', (data) => seen.push(data));
    await client.publish('r', 'm', 'before', { echo: true });
    await until(() => seen.length === 1);
    expect(app.hub.engineAvailable).toBe(true);

    const port = redis.port;
    await redis.stop('SIGKILL');
    await until(() => !app.hub.engineAvailable, 5_000);
    // The client stays connected; what needs Redis is refused, not lost silently.
    expect(client.state).toBe('connected');
    const refused = await client.publish('r', 'm', 'during').catch((e: RealtimeClientError) => e);
    expect(refused).toMatchObject({ code: 'INTERNAL_ERROR' });

    redis = await startRedis(port); // a new, empty Redis on the same port
    await until(() => app.hub.engineAvailable, 10_000);
    await client.publish('r', 'm', 'after', { echo: true });
    await until(() => seen.length === 2, 5_000);
    expect(seen).toEqual(['before', 'after']);
    // The new Redis had no history: the room's epoch changed, and the client was told.
    expect(resyncs).toMatchObject([{ name: 'r', recovered: false }]);
    await client.close();
  }, 30_000);
});
