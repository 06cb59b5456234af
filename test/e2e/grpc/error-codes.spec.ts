// How a gRPC client reads why a call failed: the status is the error code's gRPC
// status (docs/protocol.md, Error codes), `details` its message, and the code itself
// is the `rt-error-code` trailer, read here by @grpc/grpc-js clients of a real app.
import { Injectable, type ModuleMetadata } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { withHarness } from '../../support/fixtures.js';
import { collect, grpc, startGrpcApp, type GrpcApp } from '../../support/grpc.js';
import { RpcError, RpcService, type RealtimeModuleOptions } from '../../../lib/index.js';

const harness = withHarness();

@Injectable()
class Shop {
  constructor(rpc: RpcService) {
    rpc.register('buy', () => {
      throw new RpcError('OUT_OF_STOCK', 'sold out', { sku: 'x1' });
    });
  }
}

async function started(
  options: RealtimeModuleOptions = {},
  quiet = false,
  metadata: ModuleMetadata = {},
): Promise<GrpcApp> {
  // Quiet: the error a test provokes on purpose is logged by the server, not printed here.
  const app = await startGrpcApp(options, metadata, quiet ? { logger: false } : {});
  harness.track(app);
  return app;
}

/** What a client learns from a failed call: status, details, and the code trailer. */
function failure(error: grpc.ServiceError | undefined) {
  return {
    status: error?.code,
    details: error?.details,
    code: error?.metadata.get('rt-error-code'),
  };
}

async function unaryFailure(app: GrpcApp, method: string, request: object) {
  const error = await app
    .realtime()
    .unary(method, request)
    .then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
  return failure(error);
}

describe('gRPC error codes', () => {
  it('a unary call: its status, its message as details, its code in the trailers', async () => {
    const app = await started(
      {
        authorize: {
          canPublish: (_principal, room) => {
            if (room === 'broken') throw new Error('the hook has a bug');
            return room !== 'a: b';
          },
        },
      },
      true,
    );
    expect(await unaryFailure(app, 'GetRoom', { room: 'nowhere' })).toEqual({
      status: grpc.status.NOT_FOUND,
      details: 'no room "nowhere"',
      code: ['ROOM_NOT_FOUND'],
    });
    expect(await unaryFailure(app, 'Call', { method: 'nope' })).toEqual({
      status: grpc.status.UNIMPLEMENTED,
      details: 'no RPC method "nope"',
      code: ['RPC_UNKNOWN_METHOD'],
    });
    // A message with ": " in it is carried whole: nothing is parsed back out of text.
    expect(await unaryFailure(app, 'Publish', { room: 'a: b', event: 'x' })).toEqual({
      status: grpc.status.PERMISSION_DENIED,
      details: 'not allowed to publish to "a: b"',
      code: ['FORBIDDEN'],
    });
    expect(await unaryFailure(app, 'Publish', { room: 'r', event: 'x', data: '{' })).toEqual({
      status: grpc.status.INVALID_ARGUMENT,
      details: 'data must be JSON text',
      code: ['INVALID_DATA'],
    });
    // Anything unexpected: INTERNAL_ERROR, without its text.
    expect(await unaryFailure(app, 'Publish', { room: 'broken', event: 'x' })).toEqual({
      status: grpc.status.INTERNAL,
      details: 'Internal server error',
      code: ['INTERNAL_ERROR'],
    });
  });

  it("an app's RpcError: UNKNOWN, its message as details, its code and details in the trailers", async () => {
    const app = await started({}, false, { providers: [Shop] });
    const error = await app
      .realtime()
      .unary('Call', { method: 'buy' })
      .then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
    expect(failure(error)).toEqual({
      status: grpc.status.UNKNOWN,
      details: 'sold out',
      code: ['OUT_OF_STOCK'],
    });
    expect(error?.metadata.get('rt-error-details')).toEqual(['{"sku":"x1"}']);
  });

  it('a server stream ends with the same status, details and trailer', async () => {
    const app = await started({ presence: { maxWatchedPerConnection: 1 } });
    const client = app.realtime();
    const subscription = collect(client.raw.Subscribe({ rooms: [] }, client.metadata));
    const watch = collect(client.raw.WatchPresence({ users: ['a', 'b'] }, client.metadata));
    await expect.poll(() => subscription.ended.error && watch.ended.error).toBeTruthy();
    expect(failure(subscription.ended.error)).toEqual({
      status: grpc.status.INVALID_ARGUMENT,
      details: 'a subscription has 1 to 100 rooms',
      code: ['INVALID_DATA'],
    });
    expect(failure(watch.ended.error)).toEqual({
      status: grpc.status.RESOURCE_EXHAUSTED,
      details: 'a watch has 1 users at most',
      code: ['WATCH_LIMIT_REACHED'],
    });
  });

  it('PublishStream: each rejection carries the code and the message of its error', async () => {
    const app = await started({ authorize: { canPublish: (_principal, room) => room !== 'a: b' } });
    const client = app.realtime();
    const summary = await new Promise<any>((resolve, reject) => {
      const call = client.raw.PublishStream(client.metadata, (error: Error | null, reply: any) =>
        error ? reject(error) : resolve(reply),
      );
      call.write({ room: 'a: b', event: 'x' });
      call.write({ room: 'ok', event: 'x', data: '{' });
      call.end();
    });
    expect(summary.rejected).toEqual([
      { index: 0, code: 'FORBIDDEN', message: 'not allowed to publish to "a: b"' },
      { index: 1, code: 'INVALID_DATA', message: 'data must be JSON text' },
    ]);
  });

  it('a refusal that is not an error of the protocol has no code trailer', async () => {
    const app = await started({ authenticate: () => null });
    expect(await unaryFailure(app, 'Publish', { room: 'r', event: 'x' })).toEqual({
      status: grpc.status.UNAUTHENTICATED,
      details: 'Unauthorized',
      code: [],
    });
  });
});
