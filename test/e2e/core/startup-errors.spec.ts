// Start-up that cannot succeed says why, names what failed, and the fix (issue 19, point 6).
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { RealtimeStartupError } from '../../../lib/index.js';
import { createEngine } from '../../../lib/engines/create-engine.js';
import { startApp } from '../../support/app.js';
import { freePort } from '../../support/processes.js';
import { redisAvailable, startRedis } from '../../support/redis.js';

/** What a promise was rejected with (fails the test when it resolves). */
async function rejection(work: Promise<unknown>): Promise<Error> {
  const result = await work.then(
    () => new Error('expected a rejection, got none'),
    (error: unknown) => error,
  );
  expect(result).toBeInstanceOf(RealtimeStartupError);
  return result as Error;
}

/** The import of a package that is not installed, standing for ioredis missing here. */
const notInstalled = (name: string) => import(`${name}-not-installed-here`);
const nothingLoads = () => Promise.reject(new Error('nothing may be loaded'));

describe('ioredis not installed', () => {
  it('the Redis engine fails with PEER_MISSING, naming the engine and `npm install ioredis`', async () => {
    const error = (await rejection(
      createEngine({ type: 'redis', url: 'redis://localhost:6379' }, notInstalled),
    )) as RealtimeStartupError;
    expect(error.code).toBe('PEER_MISSING');
    expect(error.fix).toBe('npm install ioredis');
    expect(error.message).toMatch(/^nest-realtime could not start: the Redis engine/);
    expect(error.message).toContain('needs ioredis, which is not installed');
    expect(error.message).toContain('Fix: npm install ioredis');
    expect((error.cause as { code?: string }).code).toBe('ERR_MODULE_NOT_FOUND');
  });

  it('another failure of the import is not taken for a missing package', async () => {
    const broken = new Error('ioredis blew up');
    const error = await createEngine({ type: 'redis' }, () => Promise.reject(broken)).catch(
      (e: unknown) => e,
    );
    expect(error).toBe(broken);
  });

  it('the memory engine needs no peer', async () => {
    const engine = await createEngine({ type: 'memory' }, nothingLoads);
    expect(engine.constructor.name).toBe('MemoryEngine');
  });
});

describe.runIf(redisAvailable())('Redis unreachable at start', () => {
  it('app.listen fails at once with ENGINE_UNREACHABLE, naming the engine, the URL and the fix', async () => {
    const port = await freePort(); // nothing listens there
    const url = `redis://127.0.0.1:${port}`;
    const error = (await rejection(
      startApp({ engine: { type: 'redis', url } }),
    )) as RealtimeStartupError;
    expect(error.code).toBe('ENGINE_UNREACHABLE');
    expect(error.message).toContain(`the Redis engine could not reach ${url} (`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.fix).toMatch(/^start Redis there, or set engine\.url/);
    // (That no client is left reconnecting: lib/engines/redis/redis.engine.spec.ts.)
  });

  it('the password of the URL is masked in the message', async () => {
    const port = await freePort();
    const error = await rejection(
      startApp({ engine: { type: 'redis', url: `redis://:hunter2@127.0.0.1:${port}/0` } }),
    );
    expect(error.message).toContain(`redis://:***@127.0.0.1:${port}/0`);
    expect(error.message).not.toContain('hunter2');
    expect(JSON.stringify(error, Object.getOwnPropertyNames(error))).not.toContain('hunter2');
  });

  it('a server that accepts and never answers fails after engine.startTimeout', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket)); // reads, never writes
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    try {
      const error = (await rejection(
        startApp({
          engine: { type: 'redis', url: `redis://user:pw@127.0.0.1:${port}`, startTimeout: 100 },
        }),
      )) as RealtimeStartupError;
      expect(error.code).toBe('ENGINE_UNREACHABLE');
      expect(error.message).toContain(`redis://user:***@127.0.0.1:${port}`);
      expect(error.message).toContain('no answer within 100 ms');
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('a Redis that runs starts as before', async () => {
    const redis = await startRedis();
    try {
      const app = await startApp({ engine: { type: 'redis', url: redis.url } });
      expect(app.hub.engineAvailable).toBe(true);
      await app.close();
    } finally {
      await redis.stop();
    }
  });

  it('engine.startTimeout is checked', async () => {
    await expect(
      startApp({ engine: { type: 'redis', url: 'redis://x:1', startTimeout: 0 } }),
    ).rejects.toThrow('Invalid nest-realtime option "engine.startTimeout"');
  });
});
