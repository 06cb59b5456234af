// A grpc option that nothing serves is refused at start or warned of, never silent
// (issue 19, point 6).
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { describe, expect, it } from 'vitest';
import {
  RealtimeModule,
  RealtimeStartupError,
  type RealtimeModuleOptions,
} from '../../../lib/index.js';
import { GrpcListener } from '../../../lib/transports/grpc/grpc-listener.js';
import { RealtimeGrpcModule, connectRealtimeGrpc } from '../../../lib/transports/grpc/index.js';
import { listen, startApp } from '../../support/app.js';
import { withHarness } from '../../support/fixtures.js';
import { testLogger } from '../../support/logger.js';
import { freePort } from '../../support/processes.js';

const WARNING = /connectRealtimeGrpc\(app\) was not called before app\.listen\(\)/;

function asyncModule(
  grpcUrl: string,
  withGrpcModule: boolean,
  options: RealtimeModuleOptions = {},
) {
  @Module({
    imports: [
      RealtimeModule.forRootAsync({
        useFactory: async () => ({ ...options, grpc: { url: grpcUrl } }),
      }),
      ...(withGrpcModule ? [RealtimeGrpcModule] : []),
    ],
  })
  class AsyncGrpcModule {}
  return AsyncGrpcModule;
}

describe('the grpc option without RealtimeGrpcModule (forRootAsync)', () => {
  const harness = withHarness();

  it('fails to start with GRPC_MODULE_MISSING, naming the option and the fix', async () => {
    const url = `127.0.0.1:${await freePort()}`;
    const error = await listen(asyncModule(url, false)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RealtimeStartupError);
    expect(error).toMatchObject({ code: 'GRPC_MODULE_MISSING' });
    const { message, fix } = error as RealtimeStartupError;
    expect(message).toContain('the grpc option is set, but RealtimeGrpcModule is not imported');
    expect(fix).toContain("import RealtimeGrpcModule (from 'nest-realtime/grpc')");
    expect(fix).toContain('RealtimeModule.forRootAsync(...)');
  });

  it('is refused by NestFactory.create, before init starts the engine', async () => {
    const url = `127.0.0.1:${await freePort()}`;
    const unreachable = { type: 'redis', url: `redis://127.0.0.1:${await freePort()}` } as const;
    const root = asyncModule(url, false, { engine: unreachable });
    const created = NestFactory.create(root, { logger: testLogger, abortOnError: false });
    await expect(created).rejects.toMatchObject({ code: 'GRPC_MODULE_MISSING' });
  });

  it('starts, and serves gRPC, with RealtimeGrpcModule imported', async () => {
    const url = `127.0.0.1:${await freePort()}`;
    const app = harness.track(
      await listen(asyncModule(url, true), '/ws', {
        configure: (nest) => connectRealtimeGrpc(nest),
      }),
    );
    expect(app.app.get(GrpcListener)).toMatchObject({ moduleImported: true, listening: true });
    expect(testLogger.has(WARNING)).toBe(false);
  });
});

describe('the grpc option without connectRealtimeGrpc(app)', () => {
  const harness = withHarness();

  it('warns once, after listen, naming the option and the fix', async () => {
    const url = `127.0.0.1:${await freePort()}`;
    const app = harness.track(await startApp({ grpc: { url } }));
    const warnings = testLogger.problems().filter((entry) => WARNING.test(entry.text));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', context: 'RealtimeGrpc' });
    expect(warnings[0]!.text).toContain(`the grpc option is set (grpc.url ${url})`);
    expect(warnings[0]!.text).toContain("Call it (from 'nest-realtime/grpc') before app.listen()");
    expect(app.app.get(GrpcListener).listening).toBe(false);
  });

  it('says nothing when it is called before listen, or when gRPC is off', async () => {
    const url = `127.0.0.1:${await freePort()}`;
    harness.track(await startApp({ grpc: { url } }, {}, { configure: connectRealtimeGrpc }));
    harness.track(await startApp({}));
    expect(testLogger.has(WARNING)).toBe(false);
    expect(testLogger.problems()).toEqual([]);
  });
});
