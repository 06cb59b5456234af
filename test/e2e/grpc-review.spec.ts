// Review of the gRPC transport: regression tests, each named after the bug it pins.
import { describe, expect, it } from 'vitest';
import { DeliveryService, RealtimeModule, type RealtimeModuleOptions } from '../../lib/index.js';
import { until, userFromQuery, withHarness } from '../support/fixtures.js';
import { collect, grpc, startGrpcApp, type GrpcApp } from '../support/grpc.js';

// Apps, clients and timers of a test, closed after it (clients and timers first).
const harness = withHarness();

async function started(options: RealtimeModuleOptions = {}): Promise<GrpcApp> {
  const app = await startGrpcApp({ authenticate: userFromQuery, ...options });
  harness.track(app);
  return app;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `user <id>` authorization header as the principal. */
const byHeader: RealtimeModuleOptions['authenticate'] = (request) => {
  const header = String(request.headers.authorization ?? '');
  return header.startsWith('user ') ? { userId: header.slice(5) } : null;
};

function session(app: GrpcApp, metadata: Record<string, string> = {}, options = {}) {
  const client = app.realtime(metadata);
  const call = client.raw.Session(client.metadata, options);
  harness.defer(() => call.cancel());
  const stream = collect(call);
  return {
    call,
    stream,
    replies: () => stream.messages.filter((m) => m.reply).map((m) => m.reply),
    events: () => stream.messages.filter((m) => m.event).map((m) => m.event),
  };
}

describe('gRPC review: Session', () => {
  it('a Session cancelled, or past its deadline, while authenticate runs leaves no connection behind', async () => {
    const app = await started({
      authenticate: async () => {
        await delay(300);
        return { userId: 'slow' };
      },
    });
    const cancelled = session(app);
    session(app, {}, { deadline: Date.now() + 100 });
    await delay(50);
    cancelled.call.cancel();
    await delay(800); // authenticate has answered both long ago
    expect(app.hub.connections.count()).toBe(0);
  });

  it('a Session whose client half-closes still answers the requests it sent before', async () => {
    // Requests take a little while, as with any engine across a network.
    const app = await started({ authorize: { canJoin: () => delay(50).then(() => true) } });
    const { call, stream, replies } = session(app);
    call.write({ id: 'j1', join: { room: 'lobby' } });
    call.write({ id: 'p1', publish: { room: 'lobby', event: 'chat', data: '1' } });
    call.end();
    await until(() => stream.ended.status !== undefined);
    expect(replies().map((r) => [r.id, r.code])).toEqual([
      ['j1', ''],
      ['p1', ''],
    ]);
  });

  it('an ack written just before half-close counts: the message is not delivered again', async () => {
    const app = await started({
      authenticate: byHeader,
      authorize: { canJoin: () => delay(50).then(() => true) },
    });
    const delivery = app.app.get(DeliveryService);
    const first = session(app, { authorization: 'user grace' });
    await until(() => app.hub.connections.count() === 1);
    const id = await delivery.send({ userId: 'grace' }, 'invoice', { total: 42 });
    await until(() => first.events().some((e) => e.ack === id));
    first.call.write({ id: 'j1', join: { room: 'lobby' } });
    first.call.write({ id: 'a1', ack: { id } });
    first.call.end();
    await until(() => first.stream.ended.status !== undefined);
    await until(() => app.hub.connections.count() === 0);

    const second = session(app, { authorization: 'user grace' });
    await until(() => app.hub.connections.count() === 1);
    await delay(300);
    expect(second.events().filter((e) => e.ack === id)).toEqual([]);
  });

  it('a Session whose client does not read is ended with RESOURCE_EXHAUSTED', async () => {
    const app = await started({ grpc: { url: 'replaced:0', maxBufferedBytes: 64 << 10 } });
    const { call, stream, replies } = session(app);
    call.write({ id: 'j', join: { room: 'big' } });
    await until(() => replies().length === 1);
    call.pause(); // reads nothing more
    // Past what the client's HTTP/2 layer takes in on its own, the server holds the rest.
    const blob = 'x'.repeat(32 << 10);
    for (let i = 0; i < 2_000 && app.hub.connections.count() > 0; i++) {
      await app.hub.to('big').emit('blob', blob);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => app.hub.connections.count() === 0, 5_000);
    call.resume();
    await until(() => stream.ended.status !== undefined);
    expect(stream.ended.status!.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('Session publishes past rateLimit are refused with RATE_LIMITED, as over WebSocket', async () => {
    const app = await started({ rateLimit: { messagesPerSecond: 1, messageBurst: 3 } });
    const { call, replies } = session(app);
    call.write({ id: 'j1', join: { room: 'lobby' } });
    for (let i = 0; i < 20; i++) {
      call.write({ id: `p${i}`, publish: { room: 'lobby', event: 'chat', data: `${i}` } });
    }
    await until(() => replies().length === 21);
    expect(replies().filter((r) => r.code === 'RATE_LIMITED').length).toBeGreaterThan(0);
  });
});

describe('gRPC review: server and client streams', () => {
  it('Subscribe: the docs client resumes after an rt:resync (its Event carries the room position)', async () => {
    const app = await started({ history: { maxCount: 100 } });
    const client = app.realtime();
    const since = [{ room: 'lobby', epoch: 'gone', offset: 3 }];
    const first = client.raw.Subscribe({ rooms: ['lobby'], since }, client.metadata);
    const one = collect(first);
    await until(() => one.messages.some((m) => m.event === 'rt:joined'));
    expect(one.messages[0]).toMatchObject({ event: 'rt:resync', room: 'lobby' });
    // As docs/grpc.md's client keeps its place: every event of the room.
    let last: { epoch: string; offset: number } | undefined;
    for (const event of one.messages) {
      if (event.room === 'lobby') last = { epoch: event.epoch, offset: event.offset };
    }
    first.cancel();

    const again = client.raw.Subscribe(
      { rooms: ['lobby'], since: [{ room: 'lobby', ...last }] },
      client.metadata,
    );
    harness.defer(() => again.cancel());
    const two = collect(again);
    await until(
      () => two.messages.some((m) => m.event === 'rt:joined') || two.ended.status !== undefined,
    );
    expect(two.ended.error?.details).toBeUndefined();
    expect(two.messages.map((m) => m.event)).toEqual(['rt:joined']);
  });

  it('WatchPresence past presence.maxWatchedPerConnection ends with RESOURCE_EXHAUSTED, not OK', async () => {
    const app = await started({ presence: { maxWatchedPerConnection: 2 } });
    const client = app.realtime();
    const stream = collect(client.raw.WatchPresence({ users: ['a', 'b', 'c'] }, client.metadata));
    await until(() => stream.ended.status !== undefined);
    expect(stream.ended.status!.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('PublishStream: an unauthenticated call that sends no message is UNAUTHENTICATED, not OK', async () => {
    const app = await started({ authenticate: () => null });
    const client = app.realtime();
    const outcome = await new Promise<{ error: grpc.ServiceError | null; reply: unknown }>(
      (resolve) => {
        const call = client.raw.PublishStream(
          client.metadata,
          (error: grpc.ServiceError | null, reply: unknown) => resolve({ error, reply }),
        );
        call.end();
      },
    );
    expect(outcome.error?.code).toBe(grpc.status.UNAUTHENTICATED);
  });
});

describe('gRPC review: the module', () => {
  it('RealtimeModule.forRoot({ isGlobal: false, grpc }) is refused at once, naming the option', () => {
    expect(() => RealtimeModule.forRoot({ isGlobal: false, grpc: { url: '127.0.0.1:1' } })).toThrow(
      /"isGlobal": expected true \(the default\) with the grpc option/,
    );
  });
});
