// The gRPC API against a real hybrid app, with @grpc/grpc-js clients: the four call
// kinds, crossing to and from WebSocket, resume, cleanup, errors and health.
import { ForbiddenException, Injectable } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import {
  DeliveryService,
  RealtimeModule,
  RpcService,
  type RealtimeModuleOptions,
} from '../../../lib/index.js';
import { libraryClient } from '../../support/client.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { collect, grpc, startGrpcApp, type GrpcApp } from '../../support/grpc.js';
import { SseTestClient } from '../../support/sse-client.js';

@Injectable()
class Methods {
  constructor(rpc: RpcService) {
    rpc.register('sum', (params) => (params as number[]).reduce((a, b) => a + b, 0));
    rpc.register('whoami', (_params, { principal }) => principal.userId ?? null);
  }
}

// Apps, clients and timers of a test, closed after it (clients and timers first).
const harness = withHarness();

async function started(options: RealtimeModuleOptions = {}): Promise<GrpcApp> {
  const app = await startGrpcApp(
    { authenticate: userFromQuery, history: { maxCount: 100 }, ...options },
    { providers: [Methods] },
  );
  harness.track(app);
  return app;
}

const code = (error: unknown) => (error as grpc.ServiceError).code;

describe('gRPC: unary calls', () => {
  it('publishes to a room (WebSocket members receive it), describes rooms, reads statuses, calls methods', async () => {
    const app = await started();
    const ws = libraryClient(harness, app, 'alice');
    const lobby = await ws.join('lobby');
    const heard: unknown[] = [];
    lobby.on('chat', (data) => heard.push(data));
    const sse = await SseTestClient.open(
      `http://127.0.0.1:${app.port}/realtime/events?room=lobby&user=sam`,
    );
    harness.defer(() => sse.close());
    await sse.until(() => sse.events.some((e) => e.event === 'rt:joined'));
    const client = app.realtime();

    const reply = await client.unary('Publish', {
      room: 'lobby',
      event: 'chat',
      data: '{"text":"hi"}',
    });
    expect(reply).toEqual({ room: 'lobby', epoch: expect.any(String), offset: 1 });
    await until(() => heard.length === 1);
    expect(heard).toEqual([{ text: 'hi' }]);
    await sse.until(() => sse.events.some((e) => e.event === 'chat'));
    expect(JSON.parse(sse.events.find((e) => e.event === 'chat')!.data!).data).toEqual({
      text: 'hi',
    });

    expect(await client.unary('GetRoom', { room: 'lobby' })).toMatchObject({
      name: 'lobby',
      size: 2,
      users: ['alice', 'sam'],
    });
    const { statuses } = await client.unary('GetStatuses', { users: ['alice', 'bob'] });
    expect(statuses).toMatchObject([
      { userId: 'alice', status: 'online', meta: 'null' },
      { userId: 'bob', status: 'offline', since: 0 },
    ]);
    expect(await client.unary('Call', { method: 'sum', params: '[1,2,3]' })).toEqual({
      result: '6',
    });
  });

  it('answers each bad input with its status and a message', async () => {
    const app = await started();
    const client = app.realtime();
    const cases: [string, object, grpc.status][] = [
      ['Publish', { room: '', event: 'x' }, grpc.status.INVALID_ARGUMENT],
      ['Publish', { room: 'rt:x', event: 'x' }, grpc.status.INVALID_ARGUMENT],
      ['Publish', { room: 'r', event: 'rt:reserved' }, grpc.status.INVALID_ARGUMENT],
      ['Publish', { room: 'r', event: '' }, grpc.status.INVALID_ARGUMENT],
      ['Publish', { room: 'r', event: 'x', data: '{not json' }, grpc.status.INVALID_ARGUMENT],
      ['GetRoom', { room: 'nowhere' }, grpc.status.NOT_FOUND],
      ['GetStatuses', { users: [''] }, grpc.status.INVALID_ARGUMENT],
      ['Call', { method: 'nope' }, grpc.status.UNIMPLEMENTED],
      ['Call', { method: '' }, grpc.status.INVALID_ARGUMENT],
      ['Call', { method: 'sum', params: '[' }, grpc.status.INVALID_ARGUMENT],
    ];
    for (const [method, request, expected] of cases) {
      const error = await client.unary(method, request).catch((e: grpc.ServiceError) => e);
      expect([method, request, code(error)]).toEqual([method, request, expected]);
      // The message in details, its code in the trailers (not "CODE: message").
      const { details, metadata } = error as grpc.ServiceError;
      expect(details).toMatch(/^(?![A-Z_]+: )./);
      expect(metadata.get('rt-error-code')).toEqual([expect.stringMatching(/^[A-Z_]+$/)]);
    }
  });

  it('authenticates with the call metadata: UNAUTHENTICATED, PERMISSION_DENIED, and the principal', async () => {
    const app = await started({
      authenticate: (request) => {
        const header = String(request.headers.authorization ?? '');
        if (header === 'user banned') throw new ForbiddenException('banned');
        return header.startsWith('user ') ? { userId: header.slice(5) } : null;
      },
      authorize: { canPublish: (principal) => principal.userId !== 'mute' },
    });
    const anonymous = app.realtime();
    expect(code(await anonymous.unary('Call', { method: 'whoami' }).catch((e) => e))).toBe(
      grpc.status.UNAUTHENTICATED,
    );
    const banned = app.realtime({ authorization: 'user banned' });
    expect(code(await banned.unary('Call', { method: 'whoami' }).catch((e) => e))).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    const mute = app.realtime({ authorization: 'user mute' });
    expect(code(await mute.unary('Publish', { room: 'r', event: 'x' }).catch((e) => e))).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    const alice = app.realtime({ authorization: 'user alice' });
    expect(await alice.unary('Call', { method: 'whoami' })).toEqual({ result: '"alice"' });
  });
});

describe('gRPC: server streams', () => {
  it('Subscribe: WebSocket publishes reach the stream, with their places; rt:joined first', async () => {
    const app = await started();
    const client = app.realtime();
    const call = client.raw.Subscribe({ rooms: ['lobby', 'news'] }, client.metadata);
    harness.defer(() => call.cancel());
    const stream = collect(call);
    await until(() => stream.messages.some((m) => m.event === 'rt:joined'));
    const ws = libraryClient(harness, app, 'alice');
    await ws.join('lobby');
    await ws.publish('lobby', 'chat', { text: 'from ws' });
    await app.hub.toUser('nobody').emit('not-for-this-stream', 1);
    await app.hub.emit('everyone', 2);
    await until(() => stream.messages.length === 3);
    expect(stream.messages[1]).toEqual({
      event: 'chat',
      room: 'lobby',
      offset: 1,
      epoch: expect.any(String),
      data: '{"text":"from ws"}',
      ack: '',
    });
    expect(stream.messages[2]).toMatchObject({ event: 'everyone', room: '', data: '2' });
    expect(await app.hub.roomInfo('news')).toMatchObject({ size: 1 });
  });

  it('Subscribe: resumes after a cancelled stream, and says rt:resync when it cannot', async () => {
    const app = await started();
    const client = app.realtime();
    const first = client.raw.Subscribe({ rooms: ['feed'] }, client.metadata);
    const one = collect(first);
    await until(() => one.messages.some((m) => m.event === 'rt:joined'));
    for (let n = 1; n <= 3; n++) await app.hub.to('feed').emit('n', n);
    await until(() => one.messages.length === 4);
    const last = one.messages.at(-1);
    first.cancel();
    await until(() => app.hub.connections.count() === 0);
    for (let n = 4; n <= 6; n++) await app.hub.to('feed').emit('n', n);

    const since = [{ room: 'feed', epoch: last.epoch, offset: last.offset }];
    const again = client.raw.Subscribe({ rooms: ['feed'], since }, client.metadata);
    harness.defer(() => again.cancel());
    const two = collect(again);
    await until(() => two.messages.some((m) => m.event === 'rt:joined'));
    expect(two.messages.filter((m) => m.event === 'n').map((m) => m.data)).toEqual(['4', '5', '6']);

    const wrong = client.raw.Subscribe(
      { rooms: ['feed'], since: [{ room: 'feed', epoch: 'other', offset: 1 }] },
      client.metadata,
    );
    harness.defer(() => wrong.cancel());
    const three = collect(wrong);
    await until(() => three.messages.some((m) => m.event === 'rt:joined'));
    expect(three.messages[0]).toMatchObject({ event: 'rt:resync', room: 'feed' });
  });

  it('releases every subscription when the client cancels, or its deadline passes', async () => {
    const app = await started();
    const client = app.realtime();
    const calls = [1, 2, 3].map(() => client.raw.Subscribe({ rooms: ['a', 'b'] }, client.metadata));
    const deadline = client.raw.Subscribe({ rooms: ['a'] }, client.metadata, {
      deadline: Date.now() + 300,
    });
    const timed = collect(deadline);
    await until(async () => (await app.hub.roomInfo('a'))?.size === 4);
    for (const call of calls) {
      collect(call);
      call.cancel();
    }
    await until(() => timed.ended.status?.code === grpc.status.DEADLINE_EXCEEDED, 3_000);
    await until(() => app.hub.connections.count() === 0);
    expect(await app.hub.roomMembers('a')).toEqual([]);
    expect(await app.hub.roomMembers('b')).toEqual([]);
  });

  it("Subscribe: a tick's burst reaches every call whole and in order (written once per call)", async () => {
    const app = await started();
    const client = app.realtime();
    const calls = [0, 1, 2].map(() => client.raw.Subscribe({ rooms: ['burst'] }, client.metadata));
    for (const call of calls) harness.defer(() => call.cancel());
    const streams = calls.map(collect);
    await until(() => streams.every((s) => s.messages.some((m) => m.event === 'rt:joined')));
    // All in one tick, as a broadcast loop sends them.
    for (let i = 0; i < 500; i++) void app.hub.to('burst').emit('n', i);
    await until(() =>
      streams.every((s) => s.messages.filter((m) => m.event === 'n').length === 500),
    );
    for (const stream of streams) {
      const burst = stream.messages.filter((m) => m.event === 'n');
      expect(burst.map((m) => JSON.parse(m.data as string))).toEqual([...Array(500).keys()]);
      expect(burst.map((m) => m.offset)).toEqual(
        [...Array(500).keys()].map((i) => burst[0]!.offset + i),
      );
    }
  });

  it('ends a stream whose client does not read with RESOURCE_EXHAUSTED', async () => {
    // The url is the helper's (a free port).
    const app = await started({ grpc: { url: 'replaced:0', maxBufferedBytes: 64 << 10 } });
    const client = app.realtime();
    const call = client.raw.Subscribe({ rooms: ['big'] }, client.metadata);
    const stream = collect(call);
    await until(() => stream.messages.some((m) => m.event === 'rt:joined'));
    call.pause(); // reads nothing more
    const blob = 'x'.repeat(32 << 10);
    for (let i = 0; i < 2_000 && app.hub.connections.count() > 0; i++) {
      await app.hub.to('big').emit('blob', blob);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => app.hub.connections.count() === 0);
    call.resume();
    await until(() => stream.ended.status !== undefined);
    expect(stream.ended.status!.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  });

  it('WatchPresence: the current states, then the changes', async () => {
    const app = await started();
    const client = app.realtime();
    const call = client.raw.WatchPresence({ users: ['alice'] }, client.metadata);
    harness.defer(() => call.cancel());
    const stream = collect(call);
    await until(() => stream.messages.length === 1);
    expect(stream.messages[0]).toMatchObject({ userId: 'alice', status: 'offline' });
    const alice = libraryClient(harness, app, 'alice');
    await alice.ready;
    await until(() => stream.messages.length === 2);
    await alice.setStatus('busy');
    await until(() => stream.messages.length === 3);
    expect(stream.messages.slice(1).map((m) => m.status)).toEqual(['online', 'busy']);
  });
});

describe('gRPC: client and bidirectional streams', () => {
  it("unary calls and PublishStream messages take from the caller's rateLimit, across its calls", async () => {
    const app = await started({
      rateLimit: { messagesPerSecond: 1, messageBurst: 3 },
    });
    const first = app.realtime();
    const second = app.realtime(); // another channel of the same user: the same bucket
    const began = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? first : second)
          .unary('Publish', { room: 'feed', event: 'n', data: String(i) })
          .then(
            () => 'OK',
            (error: grpc.ServiceError) => error.metadata.get('rt-error-code')[0],
          ),
      ),
    );
    const seconds = Math.ceil((Date.now() - began) / 1_000);
    const admitted = outcomes.filter((o) => o === 'OK').length;
    // The burst, and one more per second the calls took.
    expect(admitted).toBeGreaterThanOrEqual(3);
    expect(admitted).toBeLessThanOrEqual(3 + seconds);
    expect(outcomes.filter((o) => o !== 'OK')).toEqual(
      Array.from({ length: 20 - admitted }, () => 'RATE_LIMITED'),
    );
    const summary = await new Promise<any>((resolve, reject) => {
      const call = first.raw.PublishStream(first.metadata, (error: Error | null, reply: any) =>
        error ? reject(error) : resolve(reply),
      );
      for (let i = 0; i < 5; i++) call.write({ room: 'feed', event: 'n', data: String(i) });
      call.end();
    });
    expect(summary.rejected.map((r: { code: string }) => r.code)).toContain('RATE_LIMITED');
  });

  it('a caller has at most rpc.maxPendingCalls Calls waiting; more are RESOURCE_EXHAUSTED', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    harness.defer(() => release());
    const app = await started({ rateLimit: false, rpc: { maxPendingCalls: 2 } });
    let arrived = 0;
    app.app.get(RpcService).register('slow', () => (arrived++, held.then(() => 'done')));
    const client = app.realtime();
    const calls = [1, 2].map(() => client.unary('Call', { method: 'slow' }));
    await until(() => arrived === 2);
    const third = await client.unary('Call', { method: 'slow' }).catch((e: grpc.ServiceError) => e);
    expect(third).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    expect((third as grpc.ServiceError).metadata.get('rt-error-code')).toEqual([
      'TOO_MANY_REQUESTS',
    ]);
    release();
    expect(await Promise.all(calls)).toEqual([{ result: '"done"' }, { result: '"done"' }]);
    // Answered: room again.
    expect(await client.unary('Call', { method: 'slow' })).toEqual({ result: '"done"' });
  });

  it('PublishStream: publishes in order and answers a summary with the rejected ones', async () => {
    const app = await started();
    const ws = libraryClient(harness, app, 'reader');
    const feed = await ws.join('feed');
    const heard: unknown[] = [];
    feed.on('n', (data) => heard.push(data));
    const client = app.realtime();
    const summary = await new Promise<any>((resolve, reject) => {
      const call = client.raw.PublishStream(client.metadata, (error: Error | null, reply: any) =>
        error ? reject(error) : resolve(reply),
      );
      call.write({ room: 'feed', event: 'n', data: '1' });
      call.write({ room: 'rt:bad', event: 'n', data: '2' });
      call.write({ room: 'feed', event: 'n', data: '{oops' });
      call.write({ room: 'feed', event: 'n', data: '3' });
      call.end();
    });
    expect(summary).toEqual({
      count: 2,
      last: { room: 'feed', epoch: expect.any(String), offset: 2 },
      rejectedCount: 2,
      rejected: [
        { index: 1, code: 'ROOM_NAME_INVALID', message: expect.any(String) },
        { index: 2, code: 'INVALID_DATA', message: 'data must be JSON text' },
      ],
    });
    await until(() => heard.length === 2);
    expect(heard).toEqual([1, 3]);
  });

  it('PublishStream: the summary lists the first 100 refusals and counts them all', async () => {
    const app = await started({ rateLimit: false }); // 300 messages at once
    const client = app.realtime();
    const summary = await new Promise<any>((resolve, reject) => {
      const call = client.raw.PublishStream(client.metadata, (error: Error | null, reply: any) =>
        error ? reject(error) : resolve(reply),
      );
      for (let i = 0; i < 300; i++) {
        call.write({ room: i % 3 === 0 ? 'feed' : 'rt:bad', event: 'n', data: String(i) });
      }
      call.end();
    });
    expect(summary).toMatchObject({ count: 100, last: { offset: 100 }, rejectedCount: 200 });
    expect(summary.rejected).toHaveLength(100);
    expect(summary.rejected.at(-1)).toMatchObject({ index: 149, code: 'ROOM_NAME_INVALID' });
  });

  it('PublishStream: while 1000 messages wait, the call is not read, and the client is held back', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    harness.defer(() => release());
    let asked = 0;
    const app = await started({
      authorize: { canPublish: () => (++asked, held.then(() => true)) },
      rateLimit: false, // 5000 messages at once
    });
    const client = app.realtime();
    let summary: any;
    const call = client.raw.PublishStream(client.metadata, (error: Error | null, reply: any) => {
      summary = error ?? reply;
    });
    // 1 KiB each: 5 MiB in all, more than HTTP/2's windows hold.
    const big = 'x'.repeat(1_024);
    let flushed = 0;
    for (let i = 0; i < 5_000; i++) {
      call.write({ room: 'feed', event: 'n', data: JSON.stringify(big) }, () => flushed++);
    }
    // The server reads until 1000 wait, then stops: HTTP/2 flow control holds the rest
    // in the client, and the call goes on (no RESOURCE_EXHAUSTED, no status at all).
    await until(() => asked === 1);
    await until(async () => {
      const before = flushed;
      await new Promise((resolve) => setTimeout(resolve, 100));
      return flushed === before && flushed < 5_000;
    }, 10_000);
    expect(summary).toBeUndefined();
    release();
    call.end();
    await until(() => summary !== undefined, 20_000);
    expect(summary).toMatchObject({ count: 5_000, last: { offset: 5_000 }, rejectedCount: 0 });
  }, 60_000);

  it('Session: join, receive, publish both ways, acknowledge, leave; presence counts it', async () => {
    const app = await started({
      authenticate: (request) => {
        const header = String(request.headers.authorization ?? '');
        if (header.startsWith('user ')) return { userId: header.slice(5) };
        return { userId: new URL(request.url!, 'http://x').searchParams.get('user') ?? undefined };
      },
    });
    const delivery = app.app.get(DeliveryService);
    const client = app.realtime({ authorization: 'user grace' });
    const call = client.raw.Session(client.metadata);
    harness.defer(() => call.cancel());
    const session = collect(call);
    const replies = () => session.messages.filter((m) => m.reply).map((m) => m.reply);
    const events = () => session.messages.filter((m) => m.event).map((m) => m.event);

    call.write({ id: 'j1', join: { room: 'lobby' } });
    await until(() => replies().length === 1);
    expect(replies()[0]).toMatchObject({ id: 'j1', code: '' });
    expect(JSON.parse(replies()[0].data)).toMatchObject({ name: 'lobby', size: 1 });

    const ws = libraryClient(harness, app, 'henry');
    const lobby = await ws.join('lobby');
    const heard: unknown[] = [];
    lobby.on('chat', (data) => heard.push(data));
    await ws.publish('lobby', 'chat', 'from ws');
    await until(() => events().length === 1);
    expect(events()[0]).toMatchObject({ event: 'chat', room: 'lobby', data: '"from ws"' });

    call.write({ id: 'p1', publish: { room: 'lobby', event: 'chat', data: '"from grpc"' } });
    await until(() => heard.length === 1);
    expect(heard).toEqual(['from grpc']);
    expect((await ws.members('lobby')).map((m) => m.userId).toSorted()).toEqual(['grace', 'henry']);

    const id = await delivery.send({ userId: 'grace' }, 'invoice', { total: 42 });
    await until(() => events().some((e) => e.event === 'invoice'));
    const invoice = events().find((e) => e.event === 'invoice');
    expect(invoice).toMatchObject({ ack: id, data: '{"total":42}' });
    call.write({ id: 'a1', ack: { id } });
    await until(() => replies().some((r) => r.id === 'a1'));
    await new Promise((resolve) => setTimeout(resolve, 1_200)); // past delivery.ackTimeout
    expect(events().filter((e) => e.event === 'invoice')).toHaveLength(1);

    call.write({ id: 'bad', publish: { room: 'elsewhere', event: 'chat', data: '1' } });
    call.write({ id: 'empty' });
    call.write({ id: 'l1', leave: { room: 'lobby' } });
    await until(() => replies().some((r) => r.id === 'l1'));
    expect(replies().slice(-3)).toEqual([
      { id: 'bad', data: '', code: 'NOT_IN_ROOM', message: expect.any(String) },
      { id: 'empty', data: '', code: 'INVALID_DATA', message: expect.any(String) },
      { id: 'l1', data: '{"room":"lobby","left":true}', code: '', message: '' },
    ]);
    call.end();
    await until(() => app.hub.connections.count() === 1); // henry alone
  });

  it('Session: refuses a call without credentials with UNAUTHENTICATED', async () => {
    const app = await started({ authenticate: () => null });
    const client = app.realtime();
    const call = client.raw.Session(client.metadata);
    const session = collect(call);
    await until(() => session.ended.status !== undefined);
    expect(session.ended.status!.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(app.hub.connections.count()).toBe(0);
  });
});

describe('gRPC: health', () => {
  it('reports SERVING, NOT_FOUND for other services, and NOT_SERVING once shutting down', async () => {
    const app = await startGrpcApp();
    const health = app.health();
    const check = (service: string) =>
      new Promise<any>((resolve, reject) =>
        health.Check({ service }, (error: Error | null, reply: any) =>
          error ? reject(error) : resolve(reply.status),
        ),
      );
    expect(await check('')).toBe('SERVING');
    expect(await check('realtime.v1.Realtime')).toBe('SERVING');
    // The health protocol: Check of an unknown service is NOT_FOUND.
    expect(code(await check('other.Service').catch((e) => e))).toBe(grpc.status.NOT_FOUND);
    const watch = collect(health.Watch({ service: '' }));
    await until(() => watch.messages.length === 1);
    await app.close();
    await until(() => watch.messages.length === 2 || watch.ended.status !== undefined);
    expect(watch.messages.map((m) => m.status)).toEqual(['SERVING', 'NOT_SERVING']);
  });

  it('ends open streams with UNAVAILABLE when the app shuts down, promptly', async () => {
    const app = await startGrpcApp();
    const client = app.realtime();
    const subscribe = collect(client.raw.Subscribe({ rooms: ['r'] }, client.metadata));
    const session = collect(client.raw.Session(client.metadata));
    await until(() => subscribe.messages.length === 1 && app.hub.connections.count() === 2);
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('hung')), 5_000));
    await Promise.race([app.close(), timeout]);
    await until(() => subscribe.ended.status !== undefined && session.ended.status !== undefined);
    expect([subscribe.ended.status!.code, session.ended.status!.code]).toEqual([
      grpc.status.UNAVAILABLE,
      grpc.status.UNAVAILABLE,
    ]);
  });
});

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The `user <id>` authorization header as the principal. */
const byHeader: RealtimeModuleOptions['authenticate'] = (request) => {
  const header = String(request.headers.authorization ?? '');
  return header.startsWith('user ') ? { userId: header.slice(5) } : null;
};

async function startedBare(options: RealtimeModuleOptions = {}): Promise<GrpcApp> {
  const app = await startGrpcApp({ authenticate: userFromQuery, ...options });
  harness.track(app);
  return app;
}

function openSession(app: GrpcApp, metadata: Record<string, string> = {}, options = {}) {
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

describe('regressions', () => {
  describe('Session', () => {
    it('a Session cancelled, or past its deadline, while authenticate runs leaves no connection behind', async () => {
      const app = await startedBare({
        authenticate: async () => {
          await delay(300);
          return { userId: 'slow' };
        },
      });
      const cancelled = openSession(app);
      openSession(app, {}, { deadline: Date.now() + 100 });
      await delay(50);
      cancelled.call.cancel();
      await delay(800); // authenticate has answered both long ago
      expect(app.hub.connections.count()).toBe(0);
    });

    it('a Session whose client half-closes still answers the requests it sent before', async () => {
      // Requests take a little while, as with any engine across a network.
      const app = await startedBare({ authorize: { canJoin: () => delay(50).then(() => true) } });
      const { call, stream, replies } = openSession(app);
      call.write({ id: 'j1', join: { room: 'lobby' } });
      call.write({ id: 'p1', publish: { room: 'lobby', event: 'chat', data: '1' } });
      call.end();
      await until(() => stream.ended.status !== undefined);
      expect(replies().map((r) => [r.id, r.code])).toEqual([
        ['j1', ''],
        ['p1', ''],
      ]);
      // A clean end from the client is a clean end: OK, not UNAVAILABLE (which retry
      // policies read as a server going away).
      expect(stream.ended.status!.code).toBe(grpc.status.OK);
    });

    it('an ack written just before half-close counts: the message is not delivered again', async () => {
      const app = await startedBare({
        authenticate: byHeader,
        authorize: { canJoin: () => delay(50).then(() => true) },
      });
      const delivery = app.app.get(DeliveryService);
      const first = openSession(app, { authorization: 'user grace' });
      await until(() => app.hub.connections.count() === 1);
      const id = await delivery.send({ userId: 'grace' }, 'invoice', { total: 42 });
      await until(() => first.events().some((e) => e.ack === id));
      first.call.write({ id: 'j1', join: { room: 'lobby' } });
      first.call.write({ id: 'a1', ack: { id } });
      first.call.end();
      await until(() => first.stream.ended.status !== undefined);
      await until(() => app.hub.connections.count() === 0);

      const second = openSession(app, { authorization: 'user grace' });
      await until(() => app.hub.connections.count() === 1);
      await delay(300);
      expect(second.events().filter((e) => e.ack === id)).toEqual([]);
    });

    it('a Session whose client does not read is ended with RESOURCE_EXHAUSTED', async () => {
      const app = await startedBare({ grpc: { url: 'replaced:0', maxBufferedBytes: 64 << 10 } });
      const { call, stream, replies } = openSession(app);
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
      const app = await startedBare({ rateLimit: { messagesPerSecond: 1, messageBurst: 3 } });
      const { call, replies } = openSession(app);
      call.write({ id: 'j1', join: { room: 'lobby' } });
      for (let i = 0; i < 20; i++) {
        call.write({ id: `p${i}`, publish: { room: 'lobby', event: 'chat', data: `${i}` } });
      }
      await until(() => replies().length === 21);
      expect(replies().filter((r) => r.code === 'RATE_LIMITED').length).toBeGreaterThan(0);
    });
  });

  describe('server and client streams', () => {
    it('Subscribe: the docs client resumes after an rt:resync (its Event carries the room position)', async () => {
      const app = await startedBare({ history: { maxCount: 100 } });
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
      const app = await startedBare({ presence: { maxWatchedPerConnection: 2 } });
      const client = app.realtime();
      const stream = collect(client.raw.WatchPresence({ users: ['a', 'b', 'c'] }, client.metadata));
      await until(() => stream.ended.status !== undefined);
      expect(stream.ended.status!.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    });

    it('PublishStream: an unauthenticated call that sends no message is UNAUTHENTICATED, not OK', async () => {
      const app = await startedBare({ authenticate: () => null });
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

  describe('the module', () => {
    it('RealtimeModule.forRoot({ isGlobal: false, grpc }) is refused at once, naming the option', () => {
      expect(() =>
        RealtimeModule.forRoot({ isGlobal: false, grpc: { url: '127.0.0.1:1' } }),
      ).toThrow(/"isGlobal": expected true \(the default\) with the grpc option/);
    });
  });
});
