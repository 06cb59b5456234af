// nest-realtime/testing's startRealtimeApp: a user's test starts the module on a free
// port and gets a connected client in three lines (issue 19, point 7).
import { Controller, Get, Inject, Injectable, Module } from '@nestjs/common';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  RealtimeConfigError,
  RealtimeModule,
  RealtimeStartupError,
  type RealtimeModuleOptions,
} from '../../../lib/index.js';
import { startRealtimeApp, type RealtimeTestApp } from '../../../lib/testing/index.js';
import { connectRealtimeGrpc } from '../../../lib/transports/grpc/index.js';
import { userFromQuery, withHarness } from '../../support/fixtures.js';
import { testLogger } from '../../support/logger.js';
import { freePort } from '../../support/processes.js';

const GREETING = Symbol('greeting');

@Controller('greeting')
class GreetingController {
  constructor(@Inject(GREETING) private readonly greeting: string) {}

  @Get()
  get(): { greeting: string } {
    return { greeting: this.greeting };
  }
}

/** Whether something listens on 127.0.0.1:port (a server of ours cannot bind it). */
async function inUse(port: number): Promise<boolean> {
  const probe = createServer();
  probe.listen(port, '127.0.0.1');
  const [outcome] = await Promise.race([once(probe, 'listening'), once(probe, 'error')]).then(
    () => [false],
    () => [true],
  );
  await new Promise((resolve) => probe.close(resolve));
  return outcome as boolean;
}

const realtime = (options: RealtimeModuleOptions = {}) =>
  RealtimeModule.forRoot({ authenticate: userFromQuery, ...options });

/** An app whose GET /greeting answers `value`. */
const greeting = (value: string) => ({
  imports: [realtime()],
  controllers: [GreetingController],
  providers: [{ provide: GREETING, useValue: value }],
  logger: testLogger,
});

describe('startRealtimeApp', () => {
  const harness = withHarness();
  const started = async (rt: Promise<RealtimeTestApp>) => {
    const app = await rt;
    harness.defer(() => app.close());
    return app;
  };

  it('in three lines: an app on a free port and a connected client', async () => {
    const rt = await startRealtimeApp({ imports: [realtime()] });
    const client = await rt.client({ query: { user: 'ada' } });
    const room = await client.join('lobby');
    // -- the three lines above; what a test then does --
    harness.defer(() => rt.close());
    expect(client.state).toBe('connected');
    expect(client.connection?.userId).toBe('ada');
    expect(rt.port).toBeGreaterThan(0);
    expect(rt.url).toBe(`http://127.0.0.1:${rt.port}`);
    expect(rt.wsUrl).toBe(`ws://127.0.0.1:${rt.port}/ws`);
    const news = new Promise((resolve) => room.on('news', resolve));
    await rt.hub.to('lobby').emit('news', 'hello');
    expect(await news).toBe('hello');
    expect(rt.module.get(RealtimeModule)).toBeInstanceOf(RealtimeModule);
  });

  it('a module on forRootAsync, with its websocket path', async () => {
    @Injectable()
    class Config {
      readonly path = '/live';
    }
    @Module({ providers: [Config], exports: [Config] })
    class ConfigModule {}
    const rt = await started(
      startRealtimeApp({
        imports: [
          RealtimeModule.forRootAsync({
            imports: [ConfigModule],
            inject: [Config],
            useFactory: async (config: Config) => ({
              authenticate: userFromQuery,
              websocket: { path: config.path },
            }),
          }),
        ],
        logger: testLogger,
      }),
    );
    expect(rt.wsUrl).toBe(`ws://127.0.0.1:${rt.port}/live`);
    const client = await rt.client({ query: { user: 'bo' } });
    expect(client.connection?.userId).toBe('bo');
  });

  it('on Fastify', async () => {
    const rt = await started(startRealtimeApp({ ...greeting('hi'), platform: 'fastify' }));
    expect(rt.app.getHttpAdapter().getType()).toBe('fastify');
    expect(await (await fetch(`${rt.url}/greeting`)).json()).toEqual({ greeting: 'hi' });
    const client = await rt.client({ query: { user: 'cy' } });
    const room = await client.join('r');
    const seen = new Promise((resolve) => room.on('m', resolve));
    await client.publish('r', 'm', 'over fastify', { echo: true });
    expect(await seen).toBe('over fastify');
  });

  it('the override hook changes the testing module before it compiles', async () => {
    const rt = await started(
      startRealtimeApp({
        ...greeting('the real one'),
        override: (builder) => builder.overrideProvider(GREETING).useValue('overridden'),
        configure: (app) => app.setGlobalPrefix('api'),
      }),
    );
    expect(await (await fetch(`${rt.url}/api/greeting`)).json()).toEqual({
      greeting: 'overridden',
    });
  });

  it('close() closes the clients and the app, and is safe to call twice', async () => {
    const rt = await startRealtimeApp({ imports: [realtime()], logger: testLogger });
    const client = await rt.client({ query: { user: 'di' } });
    const first = rt.close();
    expect(rt.close()).toBe(first);
    await first;
    expect(client.state).toBe('disconnected');
    expect(await inUse(rt.port)).toBe(false);
    await rt.close();
    await expect(rt.client()).rejects.toThrow('client() after close()');
  });

  it('a client the app refuses: client() rejects (the client is closed)', async () => {
    const rt = await started(
      startRealtimeApp({
        imports: [RealtimeModule.forRoot({ authenticate: () => false })],
        logger: testLogger,
      }),
    );
    await expect(rt.client({ reconnect: false })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  describe('failures', () => {
    it.each([
      [undefined, 'options must be an object'],
      [{}, 'options.imports must be an array of modules'],
      [{ imports: [] }, 'options.imports must be an array of modules'],
      [
        { imports: [RealtimeModule], platform: 'koa' },
        `options.platform must be 'express' or 'fastify', not "koa"`,
      ],
      [{ imports: [RealtimeModule], override: 1 }, 'options.override must be a function'],
      [{ imports: [RealtimeModule], modules: [] }, 'options.modules must be left out'],
    ])('bad options %j: a TypeError naming the option', async (options, message) => {
      await expect(startRealtimeApp(options as never)).rejects.toThrow(
        new TypeError(`startRealtimeApp: ${message}`).message,
      );
    });

    it('an override that does not return the builder', async () => {
      await expect(
        startRealtimeApp({ imports: [realtime()], override: (() => undefined) as never }),
      ).rejects.toThrow('options.override must return the builder it was given');
    });

    it('a wrong module option: the RealtimeConfigError, as it came', async () => {
      const error = await startRealtimeApp({
        imports: [RealtimeModule.forRoot({ websocket: { pingInterval: -1 } })],
        logger: testLogger,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RealtimeConfigError);
      expect((error as RealtimeConfigError).option).toBe('websocket.pingInterval');
    });

    it('a start that fails after configure: its error, and nothing left listening', async () => {
      const grpcPort = await freePort();
      const redisPort = await freePort(); // nothing listens there
      let grpcListened = false;
      const error = await startRealtimeApp({
        imports: [
          RealtimeModule.forRoot({
            grpc: { url: `127.0.0.1:${grpcPort}` },
            engine: { type: 'redis', url: `redis://127.0.0.1:${redisPort}` },
          }),
        ],
        // The gRPC server listens before the app starts (as documented)...
        configure: async (app) => {
          await connectRealtimeGrpc(app);
          grpcListened = await inUse(grpcPort);
        },
        logger: testLogger,
      }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RealtimeStartupError);
      expect(error).toMatchObject({ code: 'ENGINE_UNREACHABLE' });
      // ...and was closed with the app that could not start.
      expect(grpcListened).toBe(true);
      expect(await inUse(grpcPort)).toBe(false);
    });

    it.each([
      ['@nestjs/testing', {}],
      ['@nestjs/platform-fastify', { platform: 'fastify' }],
    ] as const)('%s not installed: PEER_MISSING, with the fix', async (name, extra) => {
      const load = (pkg: string) => import(pkg === name ? `${pkg}-not-installed-here` : pkg);
      const error = await startRealtimeApp(
        { imports: [realtime()], logger: testLogger, ...extra },
        load,
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RealtimeStartupError);
      expect(error).toMatchObject({ code: 'PEER_MISSING', fix: `npm install ${name}` });
    });
  });
});
