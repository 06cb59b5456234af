// Review of the SSE transport: regression tests, each named after the bug it pins.
// Real apps, real HTTP; each test fails on the code as reviewed.
import { Controller, Query, Sse } from '@nestjs/common';
import { request as httpRequest } from 'node:http';
import { interval } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  DeliveryService,
  RealtimeEngine,
  RealtimeSse,
  type RealtimeModuleOptions,
  type Undeliverable,
} from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { until, userFromQuery, withHarness } from '../support/fixtures.js';
import {
  dataOf,
  SseTestClient,
  httpBase,
  joined,
  messages,
  openStream,
} from '../support/sse-client.js';
import { eventIs, TestClient } from '../support/ws-client.js';

const noop = (): void => undefined;

/** Lets a test hold a handler until the app is shutting down. */
const late = { arrived: false, release: noop };

@Controller('review')
class ReviewController {
  constructor(private readonly sse: RealtimeSse) {}

  @Sse('late')
  async late() {
    late.arrived = true;
    await new Promise<void>((resolve) => (late.release = resolve));
    return this.sse.stream(interval(60_000));
  }

  @Sse('watch')
  watch(@Query('users') users: string) {
    return this.sse.presence(users.split(','));
  }
}

const harness = withHarness();

const started = (options: RealtimeModuleOptions = {}): Promise<TestApp> =>
  harness.start({ authenticate: userFromQuery, ...options }, { controllers: [ReviewController] });

const stream = (app: TestApp, query: string, headers?: Record<string, string>) =>
  openStream(harness, app, query, headers);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SSE review: resume', () => {
  it('names every resumed room in the ids sent before rt:joined, so a second drop loses no room', async () => {
    const app = await started({ history: { maxCount: 100 } });
    const first = await stream(app, 'room=a&room=b');
    await joined(first);
    const full = first.lastEventId!; // a=E:0,b=E:0
    first.close();
    await app.hub.to('a').emit('n', 'a1');
    await app.hub.to('a').emit('n', 'a2');
    await app.hub.to('b').emit('n', 'b1');
    const second = await stream(app, 'room=a&room=b', { 'last-event-id': full });
    await joined(second);
    // The client drops right after the replayed a1 (before rt:joined) and comes back
    // with the id it last saw: b's place must still be in it.
    const a1 = messages(second).find((e) => dataOf(e).data === 'a1')!;
    const third = await stream(app, 'room=a&room=b', { 'last-event-id': a1.id! });
    await joined(third);
    const resynced = third.events.some((e) => e.event === 'rt:resync');
    expect([messages(third).map((e) => dataOf(e).data), resynced]).toEqual([['a2', 'b1'], false]);
  });

  it('says rt:resync for an unreadable id before a live event that arrives while the room is joined', async () => {
    const app = await started();
    // A networked engine answers readRoom after a while; meanwhile the room is live.
    const engine = app.app.get<RealtimeEngine>(RealtimeEngine).broker;
    const readRoom = engine.readRoom.bind(engine);
    let release = noop;
    const gate = new Promise<void>((resolve) => (release = resolve));
    engine.readRoom = async (...args) => {
      await gate;
      return readRoom(...args);
    };
    const client = await stream(app, 'room=feed', { 'last-event-id': 'not-ours' });
    await until(async () => (await app.hub.roomMembers('feed')).length === 1);
    await app.hub.to('feed').emit('n', 1);
    release();
    await joined(client);
    // docs/protocol.md: "the stream says so before any live event of that room".
    expect(client.events.map((e) => e.event)).toEqual([
      'rt:connected',
      'rt:resync',
      'n',
      'rt:joined',
    ]);
  });

  it('writes ids a client can send back: a stream of 60 rooms resumes', async () => {
    const app = await started({ history: { maxCount: 10 } });
    const rooms = Array.from(
      { length: 60 },
      (_, i) => `r${String(i).padStart(2, '0')}-${'x'.repeat(126)}`,
    );
    const query = rooms.map((room) => `room=${room}`).join('&');
    const first = await stream(app, query);
    expect(first.status).toBe(200);
    await joined(first);
    const lastEventId = first.lastEventId!;
    first.close();
    await app.hub.to(rooms[0]!).emit('n', 'missed');
    const again = await stream(app, query, { 'last-event-id': lastEventId });
    expect([lastEventId.length, again.status]).toEqual([lastEventId.length, 200]);
    await joined(again);
    expect(messages(again).map((e) => dataOf(e).data)).toEqual(['missed']);
  });
});

describe('SSE review: streams and the rest of the server', () => {
  it('does not let a stream spend the acknowledged messages of its user', async () => {
    const app = await started({
      delivery: { ackTimeout: 20, maxBackoff: 20, maxAttempts: 3, ttl: 60_000 },
    });
    const failed: Undeliverable[] = [];
    app.app.get(DeliveryService).onUndeliverable((gone) => failed.push(gone));
    const sse = await stream(app, 'user=u1&room=r');
    await joined(sse);
    await app.app.get(DeliveryService).send({ userId: 'u1' }, 'invoice', { total: 42 });
    await sleep(300);
    // The stream cannot take it (docs): it waits for a connection that can.
    expect(failed.map((gone) => gone.reason)).toEqual([]);
    const ws = await TestClient.connect(`${app.wsUrl}?user=u1`);
    harness.defer(() => ws.close());
    expect((await ws.next(eventIs('invoice'), 1_000)).data).toEqual({ total: 42 });
  });

  it('does not count SSE streams against websocket.maxConnectionsPerUser', async () => {
    const app = await started({ websocket: { maxConnectionsPerUser: 1 } });
    const sse = await stream(app, 'user=u1&room=r');
    await joined(sse);
    const ws = await TestClient.open(`${app.wsUrl}?user=u1`);
    harness.defer(() => ws.close());
    const outcome = await Promise.race([
      ws.next(eventIs('rt:connected')).then(() => 'connected'),
      ws.closed.then((code) => `closed ${code}`),
    ]);
    expect(outcome).toBe('connected');
  });

  it('answers a HEAD request, and holds no stream for it (Express routes HEAD to the GET route)', async () => {
    const app = await started();
    const request = httpRequest(`${httpBase(app)}/realtime/events?room=lobby&user=u1`, {
      method: 'HEAD',
    });
    harness.defer(() => request.destroy());
    const answered = new Promise<number | undefined>((resolve) => {
      request.on('response', (response) => resolve(response.statusCode));
      request.on('error', () => resolve(undefined));
    });
    request.end();
    const status = await Promise.race([answered, sleep(1_000).then(() => 'no answer')]);
    // The server holds the user online and in the room meanwhile: Node never sends the
    // head of a HEAD response that only writes (bodies are dropped), and it never ends.
    expect([status, app.hub.connections.count()]).toEqual([200, 0]);
  });
});

describe('SSE review: helpers', () => {
  it('ends a stream() helper that starts while the app shuts down, so that close() does not hang', async () => {
    late.arrived = false;
    const app = await startApp({}, { controllers: [ReviewController] });
    const request = httpRequest(`${httpBase(app)}/review/late`, {
      headers: { accept: 'text/event-stream' },
    });
    request.on('error', () => undefined).end();
    await until(() => late.arrived);
    const closing = app.close();
    harness.defer(() => closing);
    harness.defer(() => request.destroy());
    await until(() => app.app.get(RealtimeSse).shuttingDown);
    late.release(); // the handler's stream() is subscribed now, after the streams were ended
    // Past the HTTP server's keep-alive timeout (5 s), which a helper that ended does wait for.
    const outcome = await Promise.race([
      closing.then(() => 'closed'),
      sleep(7_000).then(() => 'hung'),
    ]);
    expect(outcome).toBe('closed');
  });

  it('refuses a presence() watch over presence.maxWatchedPerConnection before the stream starts', async () => {
    const app = await started({ presence: { maxWatchedPerConnection: 1 } });
    const client = await SseTestClient.open(`${httpBase(app)}/review/watch?users=alice,bob`);
    harness.defer(() => client.close());
    // A 200 that ends at once makes an EventSource reconnect every `retry` ms, forever.
    expect(client.status).toBe(400);
  });
});
