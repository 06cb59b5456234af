// nest-realtime/health: the terminus indicator of the engine and the gRPC listener,
// behind a real /health route (issue 19, point 7).
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { describe, expect, it } from 'vitest';
import { RealtimeHealthIndicator } from '../../../lib/health/index.js';
import { connectRealtimeGrpc } from '../../../lib/transports/grpc/index.js';
import type { RealtimeModuleOptions } from '../../../lib/index.js';
import type { TestApp } from '../../support/app.js';
import { until, withHarness } from '../../support/fixtures.js';
import { freePort } from '../../support/processes.js';
import { redisAvailable, startRedis } from '../../support/redis.js';

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly realtime: RealtimeHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.realtime.isHealthy('realtime', { timeout: 1_000 })]);
  }
}

const withHealth = {
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [RealtimeHealthIndicator],
};

async function healthOf(app: TestApp): Promise<{ status: number; body: any }> {
  const response = await fetch(`http://127.0.0.1:${app.port}/health`);
  return { status: response.status, body: await response.json() };
}

describe('RealtimeHealthIndicator', () => {
  const harness = withHarness();
  const start = (options: RealtimeModuleOptions, configure?: (app: any) => unknown) =>
    harness.start(options, withHealth, { configure });

  it('the memory engine is up', async () => {
    const app = await start({});
    expect(await healthOf(app)).toEqual({
      status: 200,
      body: expect.objectContaining({
        status: 'ok',
        info: { realtime: { status: 'up', engine: 'memory' } },
      }),
    });
  });

  it('gRPC on and served: up, with grpc up', async () => {
    const url = `127.0.0.1:${await freePort()}`;
    const app = await start({ grpc: { url } }, connectRealtimeGrpc);
    const { status, body } = await healthOf(app);
    expect(status).toBe(200);
    expect(body.info.realtime).toEqual({ status: 'up', engine: 'memory', grpc: 'up' });
  });

  it('gRPC on but not served: down (503), saying connectRealtimeGrpc was not called', async () => {
    const url = `127.0.0.1:${await freePort()}`;
    const app = await start({ grpc: { url } });
    const { status, body } = await healthOf(app);
    expect(status).toBe(503);
    expect(body.error.realtime).toEqual({
      status: 'down',
      engine: 'memory',
      grpc: 'down',
      message: `no gRPC server listens at ${url} (connectRealtimeGrpc(app) was not called)`,
    });
  });

  describe.runIf(redisAvailable())('on Redis', () => {
    it('up; 503 while redis-server is stopped; up again once it is back', async () => {
      let redis = await startRedis();
      harness.defer(() => redis.stop());
      const app = await start({ engine: { type: 'redis', url: redis.url } });
      expect(await healthOf(app)).toMatchObject({
        status: 200,
        body: { info: { realtime: { status: 'up', engine: 'redis' } } },
      });

      const port = redis.port;
      await redis.stop('SIGKILL');
      const down = await healthOf(app);
      expect(down.status).toBe(503);
      expect(down.body.error.realtime).toMatchObject({ status: 'down', engine: 'redis' });
      expect(down.body.error.realtime.message).toMatch(/^the redis engine does not answer \(/);

      redis = await startRedis(port);
      await until(() => app.hub.engineAvailable, 10_000);
      expect(await healthOf(app)).toMatchObject({
        status: 200,
        body: { info: { realtime: { status: 'up', engine: 'redis' } } },
      });
    }, 30_000);

    it('a Redis that accepts but does not answer: down after the timeout', async () => {
      const redis = await startRedis();
      harness.defer(() => redis.stop());
      const app = await start({ engine: { type: 'redis', url: redis.url } });
      redis.child.kill('SIGSTOP'); // frozen: its socket is open, nothing is answered
      const down = await healthOf(app).finally(() => redis.child.kill('SIGCONT'));
      expect(down.status).toBe(503);
      expect(down.body.error.realtime.message).toBe(
        'the redis engine does not answer (no answer within 1000 ms)',
      );
    });
  });
});
