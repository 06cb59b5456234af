import 'reflect-metadata';
import { Module, type INestApplication, type ModuleMetadata, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { RealtimeModule, type RealtimeModuleOptions } from '../../lib/index.js';

/** A running Nest app on a free port, and where its WebSocket endpoint is. */
export interface TestApp {
  readonly app: INestApplication;
  readonly port: number;
  /** `ws://127.0.0.1:<port><path>` */
  readonly wsUrl: string;
  close(): Promise<void>;
}

/** Starts a real Nest app (Express, port 0) importing RealtimeModule with these options. */
export async function startApp(
  options: RealtimeModuleOptions = {},
  metadata: ModuleMetadata = {},
): Promise<TestApp> {
  @Module({
    imports: [RealtimeModule.forRoot(options), ...(metadata.imports ?? [])],
    providers: metadata.providers ?? [],
    controllers: metadata.controllers ?? [],
  })
  class TestAppModule {}
  return listen(TestAppModule, options.websocket ? (options.websocket.path ?? '/ws') : '/ws');
}

/** Starts any root module on a free port. */
export async function listen(root: Type, path = '/ws'): Promise<TestApp> {
  // abortOnError: false, so that a start-up failure rejects instead of exiting the process.
  const app = await NestFactory.create(root, { logger: ['error', 'warn'], abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return {
    app,
    port,
    wsUrl: `ws://127.0.0.1:${port}${path}`,
    close: () => app.close(),
  };
}
