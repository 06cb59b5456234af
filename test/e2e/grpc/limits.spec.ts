// gRPC streams count against per-user and per-node limits, as WebSocket connections
// and SSE streams do: past them a Subscribe, WatchPresence or Session is refused with
// a status and the code in the trailers, and one that ends frees its place.
import { describe, expect, it } from 'vitest';
import { until, withHarness } from '../../support/fixtures.js';
import { collect, grpc, startGrpcApp, type GrpcApp } from '../../support/grpc.js';

const harness = withHarness();

async function started(grpcOptions: object): Promise<GrpcApp> {
  const app = await startGrpcApp({
    authenticate: (request) => ({ userId: String(request.headers.user ?? 'anon') }),
    grpc: { url: '', ...grpcOptions },
  });
  harness.track(app);
  return app;
}

/** A Subscribe call of `user`, and once it is open or ended. */
function subscribe(app: GrpcApp, user: string) {
  const client = app.realtime({ user });
  harness.defer(() => client.close());
  const call = client.raw.Subscribe({ rooms: ['lobby'] }, client.metadata);
  harness.defer(() => call.cancel());
  const stream = collect(call);
  const settled = until(() => stream.messages.length > 0 || stream.ended.error !== undefined);
  return { call, stream, settled };
}

const refusal = (error: grpc.ServiceError | undefined) => ({
  status: error?.code,
  code: error?.metadata.get('rt-error-code'),
});

describe('gRPC stream limits', () => {
  it('refuses a user past grpc.maxStreamsPerUser with RESOURCE_EXHAUSTED, and admits again when one ends', async () => {
    const app = await started({ maxStreamsPerUser: 2 });
    const first = subscribe(app, 'alice');
    const second = subscribe(app, 'alice');
    await Promise.all([first.settled, second.settled]);
    expect([first.stream.ended.error, second.stream.ended.error]).toEqual([undefined, undefined]);

    const third = subscribe(app, 'alice');
    await third.settled;
    expect(refusal(third.stream.ended.error)).toEqual({
      status: grpc.status.RESOURCE_EXHAUSTED,
      code: ['TOO_MANY_CONNECTIONS'],
    });
    const client = app.realtime({ user: 'alice' });
    harness.defer(() => client.close());
    const session = collect(client.raw.Session(client.metadata));
    await until(() => session.ended.error !== undefined);
    expect(refusal(session.ended.error)).toEqual(refusal(third.stream.ended.error));
    // Another user is not counted with alice.
    const bob = subscribe(app, 'bob');
    await bob.settled;
    expect(bob.stream.ended.error).toBeUndefined();

    first.call.cancel();
    await until(() => app.hub.connections.countByUser('alice') === 1);
    const again = subscribe(app, 'alice');
    await again.settled;
    expect(again.stream.ended.error).toBeUndefined();
  });

  it('refuses anyone past grpc.maxStreams with UNAVAILABLE (another node may take it)', async () => {
    const app = await started({ maxStreams: 2 });
    const streams = [subscribe(app, 'a'), subscribe(app, 'b')];
    await Promise.all(streams.map(({ settled }) => settled));
    const full = subscribe(app, 'c');
    await full.settled;
    expect(refusal(full.stream.ended.error)).toEqual({
      status: grpc.status.UNAVAILABLE,
      code: ['SERVER_FULL'],
    });
  });
});
