import type {
  INestApplication,
  LoggerService,
  LogLevel,
  ModuleMetadata,
  Provider,
  Type,
} from '@nestjs/common';
import type { TestingModule, TestingModuleBuilder } from '@nestjs/testing';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import type { RealtimeClientOptions } from '../client/client-options.js';
import type { RealtimeSchema } from '../client/client-types.js';
import { RealtimeClient } from '../client/realtime-client.js';
import { RealtimeHub } from '../core/realtime-hub.js';
import { importPackage, loadPeer, type PackageLoader } from '../engines/create-engine.js';
import { REALTIME_OPTIONS } from '../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../realtime.options.js';
import { RealtimeWsAdapter } from '../transports/websocket/realtime-ws.adapter.js';

/**
 * What {@link startRealtimeApp} starts: the test module's metadata, and how the app runs.
 *
 * @example
 * ```ts
 * const options: StartRealtimeAppOptions = {
 *   imports: [RealtimeModule.forRoot({ authenticate: (req) => ({ userId: userOf(req) }) })],
 *   providers: [ChatGateway],
 *   platform: 'fastify',
 *   override: (builder) => builder.overrideProvider(Clock).useValue(fakeClock),
 *   configure: (app) => app.setGlobalPrefix('api'),
 *   logger: ['error', 'warn'],
 * };
 * ```
 */
export interface StartRealtimeAppOptions {
  /** The test module's imports: RealtimeModule.forRoot/forRootAsync, and what your code needs. Required. */
  readonly imports: NonNullable<ModuleMetadata['imports']>;
  /** Its providers (your gateways, services). */
  readonly providers?: Provider[];
  /** Its controllers. */
  readonly controllers?: Type[];
  /** The HTTP platform: `'express'` (the default) or `'fastify'` (needs @nestjs/platform-fastify). */
  readonly platform?: 'express' | 'fastify';
  /** Changes the testing module before it compiles (`overrideProvider`, `overrideGuard`...); returns the builder. */
  readonly override?: (builder: TestingModuleBuilder) => TestingModuleBuilder;
  /** What your main.ts does before `listen` (a global prefix, guards, `connectRealtimeGrpc`); awaited. */
  readonly configure?: (app: INestApplication) => unknown;
  /** Nest's logger: a LoggerService, the levels to print, or `false`. Default `['error', 'warn']`. */
  readonly logger?: LoggerService | LogLevel[] | false;
}

/**
 * How {@link RealtimeTestApp.client} connects: `query` parameters for your
 * `authenticate` hook (`{ user: 'ada' }`, `{ token }`), another `path`, and any option
 * of {@link RealtimeClient}. The client uses `ws` unless `WebSocket` is given.
 *
 * @example
 * ```ts
 * const client = await rt.client({ query: { token: await signToken('ada') }, requestTimeout: 2_000 });
 * ```
 */
export interface RealtimeTestClientOptions extends RealtimeClientOptions {
  /** Query parameters added to the WebSocket URL. */
  readonly query?: Record<string, string>;
  /** The WebSocket path; the `websocket.path` option by default. */
  readonly path?: string;
}

/**
 * A running test app on a free port of 127.0.0.1, and what a test needs of it.
 *
 * @example
 * ```ts
 * const rt = await startRealtimeApp({ imports: [RealtimeModule.forRoot({})] });
 * const client = await rt.client();
 * await rt.hub.to('lobby').emit('news', 'hello');
 * await rt.close();
 * ```
 */
export interface RealtimeTestApp {
  /** The Nest application (listening). */
  readonly app: INestApplication;
  /** The compiled testing module (`module.get(...)` for your providers). */
  readonly module: TestingModule;
  /** The port the app listens on. */
  readonly port: number;
  /** `http://127.0.0.1:<port>`: for SSE, the publish endpoint, your controllers. */
  readonly url: string;
  /** `ws://127.0.0.1:<port><websocket.path>`; undefined when the `websocket` option is false. */
  readonly wsUrl: string | undefined;
  /** The app's RealtimeHub. */
  readonly hub: RealtimeHub;
  /**
   * A client of nest-realtime/client, connected (its `ready` resolved); `close()` closes
   * it. Rejects when it cannot connect (an `authenticate` that refuses, ...).
   *
   * @throws Error when the `websocket` option is false (no WebSocket endpoint).
   */
  client<S extends RealtimeSchema = RealtimeSchema>(
    options?: RealtimeTestClientOptions,
  ): Promise<RealtimeClient<S>>;
  /** Closes the clients it made, then the app. Safe to call twice (the same promise). */
  close(): Promise<void>;
}

const PLATFORMS = new Set(['express', 'fastify']);
const KNOWN = [
  'imports',
  'providers',
  'controllers',
  'platform',
  'override',
  'configure',
  'logger',
];
const KNOWN_KEYS = new Set(KNOWN);

function wrong(option: string, expected: string): TypeError {
  return new TypeError(`startRealtimeApp: options.${option} must be ${expected}`);
}

/**
 * Starts your module on a free port for a test, with a client in one more line: builds a
 * testing module (@nestjs/testing, an optional peer dependency) from `imports`,
 * `providers` and `controllers`, lets `override` change it, creates the app on Express
 * or Fastify with `forceCloseConnections: true` (so that `close()` never waits for a
 * client), installs `new RealtimeWsAdapter(app)`, runs `configure`, and listens on
 * 127.0.0.1, port 0. When any step fails, what was started is closed and the error
 * is thrown as it came (a `RealtimeConfigError` naming a wrong option, a
 * `RealtimeStartupError`...): nothing is left listening.
 *
 * @param load how optional peers are loaded (`import` unless given)
 * @throws TypeError when the options are not as documented (naming the option).
 * @throws RealtimeStartupError (`PEER_MISSING`) when @nestjs/testing, or for Fastify
 *   @nestjs/platform-fastify, is not installed.
 * @example
 * ```ts
 * import { RealtimeModule } from 'nest-realtime';
 * import { startRealtimeApp } from 'nest-realtime/testing';
 *
 * it('greets the room', async () => {
 *   const rt = await startRealtimeApp({ imports: [AppModule] });
 *   const client = await rt.client({ query: { user: 'ada' } });
 *   const room = await client.join('lobby');
 *   // ...
 *   await rt.close();
 * });
 * ```
 */
export async function startRealtimeApp(
  options: StartRealtimeAppOptions,
  load: PackageLoader = importPackage,
): Promise<RealtimeTestApp> {
  check(options);
  const { Test } = (await loadPeer(
    load,
    '@nestjs/testing',
    'startRealtimeApp',
  )) as typeof import('@nestjs/testing');
  const { imports, providers = [], controllers = [], platform = 'express' } = options;
  let builder = Test.createTestingModule({ imports, providers, controllers });
  if (options.override) {
    builder = options.override(builder);
    if (typeof builder?.compile !== 'function') {
      throw new TypeError(
        'startRealtimeApp: options.override must return the builder it was given',
      );
    }
  }
  const module = await builder.compile();
  let app: INestApplication | undefined;
  try {
    const nest = { logger: options.logger ?? ['error', 'warn'], forceCloseConnections: true };
    if (platform === 'fastify') {
      const { FastifyAdapter } = (await loadPeer(
        load,
        '@nestjs/platform-fastify',
        "startRealtimeApp({ platform: 'fastify' })",
      )) as typeof import('@nestjs/platform-fastify');
      app = module.createNestApplication(new FastifyAdapter(), nest);
    } else {
      app = module.createNestApplication(nest);
    }
    app.useWebSocketAdapter(new RealtimeWsAdapter(app));
    await options.configure?.(app);
    await app.listen(0, '127.0.0.1');
  } catch (error) {
    await (app ?? module).close().catch(() => undefined);
    throw error;
  }
  return running(app, module);
}

/** The handle of a started app. */
function running(app: INestApplication, module: TestingModule): RealtimeTestApp {
  const { port } = app.getHttpServer().address() as AddressInfo;
  const { websocket } = app.get<ResolvedRealtimeOptions>(REALTIME_OPTIONS);
  const base = `127.0.0.1:${port}`;
  const wsUrl = websocket ? `ws://${base}${websocket.path}` : undefined;
  const clients = new Set<RealtimeClient<any>>();
  let closing: Promise<void> | undefined;
  return {
    app,
    module,
    port,
    url: `http://${base}`,
    wsUrl,
    hub: app.get(RealtimeHub),
    async client<S extends RealtimeSchema>({
      query,
      path,
      ...rest
    }: RealtimeTestClientOptions = {}) {
      if (closing) throw new Error('startRealtimeApp: client() after close()');
      const where = path ?? (websocket ? websocket.path : undefined);
      if (where === undefined) {
        throw new Error(
          'startRealtimeApp: client() needs the WebSocket transport (websocket is false)',
        );
      }
      const url = new URL(where, `ws://${base}`);
      for (const [key, value] of Object.entries(query ?? {})) url.searchParams.set(key, value);
      const client = new RealtimeClient<S>(url.href, { WebSocket, ...rest });
      clients.add(client);
      try {
        await client.ready;
      } catch (error) {
        clients.delete(client);
        await client.close();
        throw error;
      }
      return client;
    },
    close() {
      closing ??= (async () => {
        await Promise.all([...clients].map((client) => client.close()));
        clients.clear();
        await app.close();
      })();
      return closing;
    },
  };
}

/** Refuses options that are not as documented, naming the option. */
function check(options: StartRealtimeAppOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('startRealtimeApp: options must be an object ({ imports: [...] })');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) throw wrong(key, `left out (known: ${KNOWN.join(', ')})`);
  }
  if (!Array.isArray(options.imports) || options.imports.length === 0) {
    throw wrong('imports', 'an array of modules, e.g. [RealtimeModule.forRoot({})]');
  }
  for (const key of ['providers', 'controllers'] as const) {
    if (options[key] !== undefined && !Array.isArray(options[key])) throw wrong(key, 'an array');
  }
  if (options.platform !== undefined && !PLATFORMS.has(options.platform)) {
    throw wrong('platform', `'express' or 'fastify', not ${JSON.stringify(options.platform)}`);
  }
  for (const key of ['override', 'configure'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'function') {
      throw wrong(key, 'a function');
    }
  }
}
