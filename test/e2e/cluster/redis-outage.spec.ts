// Redis going away and coming back under a running node: the node keeps its
// clients, reports the outage (health, errors, logs), and recovers by itself.
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient, RealtimeClientError } from '../../../lib/client/index.js';
import { EngineUnavailableError } from '../../../lib/index.js';
import { startApp, type TestApp } from '../../support/app.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { redisAvailable, startRedis, type RedisServer } from '../../support/redis.js';
import { SseTestClient, httpBase } from '../../support/sse-client.js';
import { testLogger } from '../../support/logger.js';

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

describe.runIf(redisAvailable())('the log of a Redis outage', () => {
  it('one line when it starts, one when it ends with the count of failed calls, no stack per call', async () => {
    let redis = await startRedis();
    const app = await startApp({
      authenticate: userFromQuery,
      engine: { type: 'redis', url: redis.url },
    });
    const client = new RealtimeClient(`${app.wsUrl}?user=olga`, { WebSocket });
    try {
      await client.join('r');
      testLogger.clear();
      const port = redis.port;
      await redis.stop('SIGKILL');
      await until(() => !app.hub.engineAvailable, 5_000);
      const calls = 5;
      for (let i = 0; i < calls; i++) {
        await expect(client.publish('r', 'm', i)).rejects.toMatchObject({ code: 'INTERNAL_ERROR' });
      }
      await expect(app.hub.to('r').emit('m', 'from the server')).rejects.toThrow(
        'the Redis engine is unavailable',
      );
      const during = testLogger.problems();
      expect(during.map((entry) => entry.text)).toEqual([
        expect.stringMatching(
          new RegExp(
            `^the Redis engine lost redis://127\\.0\\.0\\.1:${port} \\(.+\\): calls to the engine fail until it is back; reconnecting$`,
          ),
        ),
      ]);
      expect(during[0]).toMatchObject({ level: 'error', context: 'RealtimeRedis' });

      redis = await startRedis(port);
      await until(() => app.hub.engineAvailable, 10_000);
      const back = testLogger.entries.filter((entry) => entry.text.includes('again after'));
      expect(back).toHaveLength(1);
      const failed = Number(/; (\d+) call\(s\) failed during the outage$/.exec(back[0]!.text)?.[1]);
      // The calls above, and whatever the node itself tried meanwhile (heartbeats).
      expect(failed).toBeGreaterThanOrEqual(calls + 1);
      expect(back[0]).toMatchObject({ level: 'log', context: 'RealtimeRedis' });
      // The outage's one error; what else was said (a room told to resync) is one line
      // about the outage, never a stack.
      expect(testLogger.problems(['error', 'fatal'])).toHaveLength(1);
      expect(testLogger.entries.filter((entry) => /\n\s+at /.test(entry.text))).toEqual([]);
    } finally {
      await client.close();
      await app.close();
      await redis.stop();
    }
  }, 30_000);
});

describe('regressions', () => {
  describe.runIf(redisAvailable())('graceful shutdown', () => {
    const harness = withHarness();

    it('a Redis that stops answering does not hang app.close() forever', async () => {
      const redis = await startRedis();
      let closing: Promise<unknown> = Promise.resolve();
      // Cleanup: Redis answers again (the hung close can finish), then it stops.
      harness.defer(async () => {
        redis.child.kill('SIGCONT');
        await closing;
      });
      harness.defer(() => redis.stop());
      const app = await harness.start({
        authenticate: userFromQuery,
        engine: { type: 'redis', url: redis.url, prefix: 'security-review:' },
        shutdownTimeout: 1_000, // the deadline that bounds the wait for the engine
      });
      harness.forget(app);
      const stream = await SseTestClient.open(`${httpBase(app)}/realtime/events?room=r&user=sia`);
      harness.defer(() => stream.close());
      await until(() => app.hub.connections.count() === 1);
      redis.child.kill('SIGSTOP'); // frozen: its socket is open, nothing is answered
      closing = app.close();
      const settled = await Promise.race([
        closing.then(() => 'closed'),
        delay(5_000).then(() => 'still closing'),
      ]);
      // Found: the hub awaits the stream's removal (a Redis command that never settles)
      // without a deadline, before engine.close(): shutdown never ends.
      expect(settled).toBe('closed');
    }, 20_000);
  });
});

describe.runIf(redisAvailable())(
  'a frozen Redis (SIGSTOP: connections stay open, nothing answers)',
  () => {
    it('fails the calls waiting and the next ones, then works again once Redis answers; nothing confirmed is lost', async () => {
      const redis = await startRedis();
      const app = await startApp({
        authenticate: userFromQuery,
        engine: { type: 'redis', url: redis.url, commandTimeout: 1_000 },
        history: { maxCount: 100 },
      });
      const client = new RealtimeClient(`${app.wsUrl}?user=olga`, { WebSocket });
      try {
        const room = await client.join('r', { recover: true });
        const seen: unknown[] = [];
        room.on('m', (data) => seen.push(data));
        await client.publish('r', 'm', 'before', { echo: true });
        await until(() => seen.length === 1);

        redis.child.kill('SIGSTOP');
        // Waiting on Redis until it wakes up would be the stall: the call fails instead.
        const stalled = await app.hub
          .to('r')
          .emit('m', 'frozen')
          .catch((error: Error) => error);
        expect(stalled).toBeInstanceOf(Error);
        await until(() => !app.hub.engineAvailable, 10_000);
        await expect(app.hub.to('r').emit('m', 'refused')).rejects.toBeInstanceOf(
          EngineUnavailableError,
        );
        const refused = await client
          .publish('r', 'm', 'during')
          .catch((e: RealtimeClientError) => e);
        expect(refused).toMatchObject({ code: 'INTERNAL_ERROR' });

        redis.child.kill('SIGCONT');
        await until(() => app.hub.engineAvailable, 10_000);
        await client.publish('r', 'm', 'after', { echo: true });
        await until(() => seen.includes('after'), 10_000);
        // What was confirmed before is there; what failed may or may not have gone out.
        expect(seen[0]).toBe('before');
        expect(seen).not.toContain('refused');
        expect(seen).not.toContain('during');
      } finally {
        await client.close();
        await app.close();
        redis.child.kill('SIGCONT');
        await redis.stop();
      }
    }, 40_000);
  },
);
