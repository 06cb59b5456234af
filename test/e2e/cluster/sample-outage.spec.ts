// The sample app on Redis, with Redis gone: a client that disconnects makes its
// gateway's handleDisconnect fail (the engine is unavailable), which the library logs;
// the sample must not turn it into an unhandled rejection that ends the process.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { startSample, sampleToken } from '../../support/browser.js';
import { withHarness } from '../../support/fixtures.js';
import { redisAvailable, startRedis } from '../../support/redis.js';

describe.runIf(redisAvailable())('the sample on Redis, with Redis down', () => {
  const harness = withHarness();

  it('survives a client disconnecting: the failed hook is logged, the process goes on', async () => {
    const redis = await startRedis();
    harness.defer(() => redis.stop());
    const sample = await startSample({ REDIS_URL: redis.url });
    harness.defer(() => sample.stop());
    let stderr = '';
    sample.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const token = await sampleToken(sample, 'ada');
    const client = await harness.connect(`ws://127.0.0.1:${sample.port}/ws?token=${token}`);

    await redis.stop('SIGKILL');
    const exited = once(sample.child, 'exit').then(([code]) => `exited with ${String(code)}`);
    await client.close();
    const logged = new Promise<string>((resolve) => {
      const check = () => stderr.includes('handleDisconnect failed') && resolve('logged');
      check();
      sample.child.stderr!.on('data', check);
    });
    expect(await Promise.race([logged, exited])).toBe('logged');
    // Still serving: a new token is issued over HTTP.
    expect(await sampleToken(sample, 'bob')).toMatch(/^ey/);
    expect(sample.child.exitCode).toBeNull();
  }, 60_000);
});
