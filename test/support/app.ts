import 'reflect-metadata';
import {
  Module,
  type INestApplication,
  type ModuleMetadata,
  type NestApplicationOptions,
  type Type,
  type WebSocketAdapter,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterAll, beforeAll } from 'vitest';
import type { AddressInfo, Socket } from 'node:net';
import {
  RealtimeHub,
  RealtimeModule,
  RealtimeWsAdapter,
  type RealtimeModuleOptions,
} from '../../lib/index.js';
import { testLogger } from './logger.js';

/** A running Nest app on a free port, and where its WebSocket endpoint is. */
export interface TestApp {
  readonly app: INestApplication;
  readonly port: number;
  /** `ws://127.0.0.1:<port><path>` */
  readonly wsUrl: string;
  /** The app's RealtimeHub. */
  readonly hub: RealtimeHub;
  close(): Promise<void>;
}

/** How Nest creates a test app. */
export interface StartOptions {
  /**
   * Nest's logger: by default the test logger, which records instead of printing
   * (support/logger.ts); false logs nothing at all.
   */
  readonly logger?: NestApplicationOptions['logger'];
  /** The port to listen on; 0 (a free one) by default. */
  readonly port?: number;
  /** The HTTP platform: Express or Fastify; see {@link usePlatform} for the default. */
  readonly platform?: Platform;
  /**
   * The app's WebSocket adapter: `new RealtimeWsAdapter(app)` unless given; null sets
   * none (Nest then picks its default, Socket.IO's).
   */
  readonly adapter?: ((app: INestApplication) => WebSocketAdapter) | null;
  /** What the app's main.ts would do before `listen` (a global prefix, global guards...); awaited. */
  readonly configure?: (app: INestApplication) => unknown;
}

/** The HTTP platforms the HTTP-facing suites run over (`describe.each(PLATFORMS)`). */
export const PLATFORMS = ['express', 'fastify'] as const;
export type Platform = (typeof PLATFORMS)[number];

let defaultPlatform: Platform = 'express';

/**
 * Apps started in the enclosing describe (without a platform of their own) run on
 * `platform`: `describe.each(PLATFORMS)('over %s', (platform) => { usePlatform(platform); ... })`.
 */
export function usePlatform(platform: Platform): void {
  let before: Platform = 'express';
  beforeAll(() => {
    before = defaultPlatform;
    defaultPlatform = platform;
  });
  afterAll(() => {
    defaultPlatform = before;
  });
}

/** The TCP sockets an app accepts from now on, so that a test can cut them as a crash would. */
export function trackSockets(app: TestApp): Set<Socket> {
  const sockets = new Set<Socket>();
  app.app.getHttpServer().on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return sockets;
}

/** Starts a real Nest app (Express or Fastify, port 0) importing RealtimeModule with these options. */
export async function startApp(
  options: RealtimeModuleOptions = {},
  metadata: ModuleMetadata = {},
  nest: StartOptions = {},
): Promise<TestApp> {
  @Module({
    imports: [RealtimeModule.forRoot(options), ...(metadata.imports ?? [])],
    providers: metadata.providers ?? [],
    controllers: metadata.controllers ?? [],
  })
  class TestAppModule {}
  const path = options.websocket ? (options.websocket.path ?? '/ws') : '/ws';
  return listen(TestAppModule, path, nest);
}

/** Starts any root module on a free port. */
export async function listen(
  root: Type,
  path = '/ws',
  {
    logger = testLogger,
    port: wanted = 0,
    platform = defaultPlatform,
    adapter = (app) => new RealtimeWsAdapter(app),
    configure,
  }: StartOptions = {},
): Promise<TestApp> {
  // abortOnError: false, so that a start-up failure rejects instead of exiting the process.
  const nest = { logger, abortOnError: false };
  const app =
    platform === 'fastify'
      ? await NestFactory.create<NestFastifyApplication>(root, new FastifyAdapter(), nest)
      : await NestFactory.create(root, nest);
  if (adapter) app.useWebSocketAdapter(adapter(app));
  try {
    await configure?.(app);
    await app.listen(wanted, '127.0.0.1');
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    port,
    wsUrl: `ws://127.0.0.1:${port}${path}`,
    get hub() {
      return app.get(RealtimeHub);
    },
    close: () => app.close(),
  };
}
