// The built-in SSE endpoint: events and ids, resume, refusals, keep-alive, publish,
// bounds and cleanup, against a real app over real HTTP.
import { ForbiddenException } from '@nestjs/common';
import { EventSource } from 'eventsource';
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  DeliveryService,
  formatEventId,
  RealtimeEngine,
  RealtimeSse,
  type RealtimeModuleOptions,
  type Undeliverable,
} from '../../../lib/index.js';
import { startApp, trackSockets, type TestApp, PLATFORMS, usePlatform } from '../../support/app.js';
import { libraryClient } from '../../support/client.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';
import {
  dataOf,
  httpBase,
  joined,
  messages,
  openStream,
  SseTestClient,
} from '../../support/sse-client.js';
import { ReviewController } from '../../support/review-controller.js';
import { eventIs, TestClient } from '../../support/ws-client.js';

const harness = withHarness();

const started = (options: RealtimeModuleOptions = {}): Promise<TestApp> =>
  harness.start({ authenticate: userFromQuery, ...options });

const stream = (app: TestApp, query: string, headers?: Record<string, string>) =>
  openStream(harness, app, query, headers);

/** The id a stream of these rooms carries at these places (docs/protocol.md). */
function idOf(rooms: string[], ...places: [string, number][]): string {
  const positions = new Map(places.map(([epoch, offset], i) => [rooms[i]!, { epoch, offset }]));
  return formatEventId(rooms, positions);
}

async function post(app: TestApp, path: string, body: unknown, query = '') {
  const response = await fetch(`${httpBase(app)}${path}${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

const noop = (): void => undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const startedWithReview = (options: RealtimeModuleOptions = {}): Promise<TestApp> =>
  harness.start({ authenticate: userFromQuery, ...options }, { controllers: [ReviewController] });

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('SSE: events and ids', () => {
    it('streams a room with the documented headers, rt:connected first, then numbered events', async () => {
      const app = await started();
      const client = await stream(app, 'room=lobby&user=u1');
      expect(client.status).toBe(200);
      expect(client.response.headers).toMatchObject({
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      expect(await joined(client)).toEqual({
        rooms: [{ room: 'lobby', epoch: expect.any(String), offset: 0 }],
      });
      expect(client.blocks[0]).toEqual({ retry: 3_000, comments: [] });
      const connected = client.events[0]!;
      expect(connected.event).toBe('rt:connected');
      expect(connected.id).toBeUndefined();
      expect(dataOf(connected)).toEqual({
        connectionId: expect.any(String),
        userId: 'u1',
        keepAliveInterval: 15_000,
        publishToken: expect.any(String),
      });
      expect(client.events[1]!.id).toMatch(/^[0-9a-z]+\.[\w-]+:0$/);

      const first = await app.hub.to('lobby').emit('chat', { text: 'hi' });
      await app.hub.to('lobby').emitBatch([
        { event: 'a', data: 1 },
        { event: 'b', data: 2 },
      ]);
      await app.hub.toUser('u1').emit('notice', 'for you');
      await client.until(() => messages(client).length === 3);
      const [chat, batch, notice] = messages(client);
      expect(chat).toEqual({
        id: idOf(['lobby'], [first!.epoch, 1]),
        event: 'chat',
        data: JSON.stringify({
          event: 'chat',
          data: { text: 'hi' },
          room: 'lobby',
          offset: 1,
          epoch: first!.epoch,
        }),
        comments: [],
      });
      // A batch to one room is one message: one event, one id.
      expect(batch).toMatchObject({ id: idOf(['lobby'], [first!.epoch, 2]), event: 'rt:batch' });
      expect(dataOf(batch!).data).toEqual([
        { event: 'a', data: 1 },
        { event: 'b', data: 2 },
      ]);
      // Not a room message: no place in a stream, so no id (the last one stays).
      expect(notice).toEqual({
        event: 'notice',
        data: JSON.stringify({ event: 'notice', data: 'for you' }),
        comments: [],
      });
    });

    it('streams several rooms: each id carries the place in every room', async () => {
      const app = await started();
      const client = await stream(app, 'room=a&room=chat%3A1&room=a');
      await joined(client);
      const a = await app.hub.to('a').emit('m', 1);
      const c = await app.hub.to('chat:1').emit('m', 2);
      await app.hub.to('a').emit('m', 3);
      await client.until(() => messages(client).length === 3);
      expect(messages(client).map((e) => e.id)).toEqual([
        idOf(['a', 'chat:1'], [a!.epoch, 1], [c!.epoch, 0]),
        idOf(['a', 'chat:1'], [a!.epoch, 1], [c!.epoch, 1]),
        idOf(['a', 'chat:1'], [a!.epoch, 2], [c!.epoch, 1]),
      ]);
    });

    it('sends keep-alive comments every keepAliveInterval', async () => {
      const app = await started({ sse: { keepAliveInterval: 50 } });
      const client = await stream(app, 'room=quiet');
      await client.until(() => client.blocks.filter((b) => b.comments.length > 0).length >= 3);
      expect(client.blocks.find((b) => b.comments.length > 0)).toEqual({ comments: [''] });
    });
  });

  describe('SSE: resume', () => {
    const history: RealtimeModuleOptions = { history: { maxCount: 1_000 } };

    it('resumes from Last-Event-ID: the missed events in order, then live ones, no gap, no duplicate', async () => {
      const app = await started(history);
      const first = await stream(app, 'room=feed');
      await joined(first);
      for (let n = 1; n <= 3; n++) await app.hub.to('feed').emit('n', n);
      await first.until(() => messages(first).length === 3);
      const lastEventId = first.lastEventId!;
      first.close();
      for (let n = 4; n <= 6; n++) await app.hub.to('feed').emit('n', n);
      const again = await stream(app, 'room=feed', { 'last-event-id': lastEventId });
      await joined(again); // after the missed ones
      await app.hub.to('feed').emit('n', 7);
      await again.until(() => messages(again).length === 4);
      expect(messages(again).map((e) => dataOf(e).data)).toEqual([4, 5, 6, 7]);
      expect(again.events.some((e) => e.event === 'rt:resync')).toBe(false);
    });

    it('resumes from a lastEventId query parameter (a first EventSource request), the header winning', async () => {
      const app = await started(history);
      const first = await stream(app, 'room=feed');
      await joined(first);
      await app.hub.to('feed').emit('n', 1);
      await first.until(() => messages(first).length === 1);
      const one = first.lastEventId!;
      await app.hub.to('feed').emit('n', 2);
      await first.until(() => messages(first).length === 2);
      const two = first.lastEventId!;
      first.close();
      await app.hub.to('feed').emit('n', 3);
      const byQuery = await stream(app, `room=feed&lastEventId=${encodeURIComponent(one)}`);
      await joined(byQuery);
      expect(messages(byQuery).map((e) => dataOf(e).data)).toEqual([2, 3]);
      const both = await stream(app, `room=feed&lastEventId=${encodeURIComponent(one)}`, {
        'last-event-id': two,
      });
      await joined(both);
      expect(messages(both).map((e) => dataOf(e).data)).toEqual([3]);
    });

    it('resumes by the lastEventId query parameter across many drops mid-stream: every event once, in order', async () => {
      const app = await started({ history: { maxCount: 10_000 } });
      const seen: number[] = [];
      let lastEventId: string | undefined;
      let published = 0;
      let publisher: NodeJS.Timeout | undefined;
      harness.defer(() => clearInterval(publisher));
      for (let round = 0; round < 12; round++) {
        const query = lastEventId ? `&lastEventId=${encodeURIComponent(lastEventId)}` : '';
        const client = await stream(app, `room=feed${query}`);
        await joined(client);
        publisher ??= setInterval(() => void app.hub.to('feed').emit('n', ++published), 2);
        await client.until(() => messages(client).length >= 10);
        client.close(); // mid-stream: more are being published
        seen.push(...messages(client).map((e) => dataOf(e).data as number));
        lastEventId = client.lastEventId;
      }
      clearInterval(publisher);
      const last = await stream(app, `room=feed&lastEventId=${encodeURIComponent(lastEventId!)}`);
      await joined(last);
      seen.push(...messages(last).map((e) => dataOf(e).data as number));
      expect(published).toBeGreaterThan(100);
      expect(seen).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    });

    it('says rt:resync before live events when the history is gone, the epoch differs, or the id is not ours', async () => {
      const app = await started({ history: { maxCount: 2 } });
      const first = await stream(app, 'room=feed&room=other');
      await joined(first);
      await app.hub.to('feed').emit('n', 1);
      await first.until(() => messages(first).length === 1);
      const stale = first.lastEventId!;
      first.close();
      for (let n = 2; n <= 5; n++) await app.hub.to('feed').emit('n', n); // 2 and 3 are no longer kept
      const lost = await stream(app, 'room=feed&room=other', { 'last-event-id': stale });
      await joined(lost);
      const resync = lost.events.find((e) => e.event === 'rt:resync');
      expect(resync!.event).toBe('rt:resync');
      expect(dataOf(resync!)).toEqual({ room: 'feed', epoch: expect.any(String), offset: 5 });
      // Both rooms' places: `other` keeps the one the client came back with.
      expect(resync!.id).toMatch(/^[0-9a-z]+\.[\w-]+:5,[\w-]+:0$/);
      await app.hub.to('feed').emit('n', 6);
      await lost.until(() => messages(lost).length === 1);
      expect(dataOf(messages(lost)[0]!).data).toBe(6);
      expect(lost.events.map((e) => e.event)).toEqual([
        'rt:connected',
        'rt:resync',
        'rt:joined',
        'n',
      ]);

      const otherEpoch = await stream(app, 'room=feed', { 'last-event-id': 'feed=NotOurs1:3' });
      await joined(otherEpoch);
      expect(otherEpoch.events[1]).toMatchObject({ event: 'rt:resync' });

      for (const junk of ['garbage', 'feed=E:x', 'feed=:1', '%E0%A4%A=E:1', 'x'.repeat(10_000)]) {
        const unreadable = await stream(app, 'room=feed&room=other', { 'last-event-id': junk });
        await joined(unreadable);
        expect(unreadable.events.slice(1, 3).map((e) => [e.event, dataOf(e).room])).toEqual([
          ['rt:resync', 'feed'],
          ['rt:resync', 'other'],
        ]);
        unreadable.close();
      }
    });

    it('with the eventsource package, across many drops mid-stream: every event once, in order', async () => {
      const app = await started({ history: { maxCount: 10_000 }, sse: { retry: 20 } });
      const sockets = trackSockets(app);
      const source = new EventSource(`${httpBase(app)}/realtime/events?room=feed`);
      harness.defer(() => source.close());
      const seen: number[] = [];
      let opens = 0;
      source.addEventListener('open', () => opens++);
      source.addEventListener('n', (event) => seen.push(JSON.parse(event.data).data));
      const ready = new Promise((resolve) => source.addEventListener('rt:joined', resolve));
      await ready;
      let published = 0;
      const publisher = setInterval(() => void app.hub.to('feed').emit('n', ++published), 2);
      harness.defer(() => clearInterval(publisher));
      for (let drop = 0; drop < 10; drop++) {
        const before = seen.length;
        await until(() => seen.length >= before + 20, 5_000);
        for (const socket of sockets) socket.destroy(); // the connection drops mid-stream
      }
      clearInterval(publisher);
      await until(() => opens === 11 && seen.length === published, 5_000);
      expect(seen).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    }, 20_000);
  });

  describe('SSE: refusals and limits', () => {
    it('is off with sse: false', async () => {
      const app = await started({ sse: false });
      const client = await stream(app, 'room=lobby');
      expect(client.status).toBe(404);
    });

    it('answers bad credentials, bad rooms and authorization refusals with a status and a JSON error', async () => {
      const app = await started({
        authenticate: (request) => {
          const user = new URL(request.url!, 'http://x').searchParams.get('user');
          if (user === 'banned') throw new ForbiddenException('banned');
          if (user === 'crash') throw new Error('authenticate bug');
          return user ? { userId: user } : null;
        },
        authorize: {
          canJoin: (principal, room) => room !== 'secret' || principal.userId === 'boss',
        },
      });
      const cases: [string, number, string][] = [
        ['room=lobby', 401, 'NOT_AUTHENTICATED'],
        ['room=lobby&user=banned', 403, 'FORBIDDEN'],
        ['room=lobby&user=crash', 500, 'INTERNAL_ERROR'],
        ['user=u1', 400, 'INVALID_DATA'],
        ['user=u1&room=', 400, 'ROOM_NAME_INVALID'],
        ['user=u1&room=rt%3Ax', 400, 'ROOM_NAME_INVALID'],
        [`user=u1&room=${'x'.repeat(201)}`, 400, 'ROOM_NAME_INVALID'],
        [
          `user=u1&${Array.from({ length: 101 }, (_, i) => `room=r${i}`).join('&')}`,
          400,
          'INVALID_DATA',
        ],
        ['user=u1&room=lobby&room=secret', 403, 'FORBIDDEN'],
      ];
      for (const [query, status, code] of cases) {
        const client = await stream(app, query);
        expect([query, client.status]).toEqual([query, status]);
        expect((await client.refusal()).error.code).toBe(code);
      }
      const boss = await stream(app, 'user=boss&room=secret');
      expect(boss.status).toBe(200);
      expect(app.hub.connections.count()).toBe(1);
    });

    it('limits streams per user (429) and per node (503), and counts a closed one out', async () => {
      const app = await started({ sse: { maxConnectionsPerUser: 2, maxConnections: 3 } });
      const a1 = await stream(app, 'user=a&room=r');
      await stream(app, 'user=a&room=r');
      const a3 = await stream(app, 'user=a&room=r');
      expect([a3.status, (await a3.refusal()).error.code]).toEqual([429, 'TOO_MANY_CONNECTIONS']);
      await stream(app, 'user=b&room=r');
      const c = await stream(app, 'user=c&room=r');
      expect([c.status, (await c.refusal()).error.code]).toEqual([503, 'SERVER_FULL']);
      a1.close();
      await until(() => app.app.get(RealtimeSse).size === 2);
      expect((await stream(app, 'user=a&room=r')).status).toBe(200);
    });

    it('closes a stream whose client does not read, and lets it go', async () => {
      const app = await started({ sse: { maxBufferedBytes: 64 << 10 } });
      const client = await stream(app, 'user=slow&room=big');
      await joined(client);
      client.response.pause(); // reads nothing more
      const big = 'x'.repeat(16 << 10);
      for (let i = 0; i < 5_000 && app.hub.connections.count() > 0; i++) {
        await app.hub.to('big').emit('blob', big);
        await new Promise((resolve) => setImmediate(resolve));
      }
      await until(() => app.hub.connections.count() === 0);
      expect(app.app.get(RealtimeSse).size).toBe(0);
    });

    it('lets the subscriptions go when the client leaves: connections, rooms and presence back to zero', async () => {
      const app = await started();
      const clients = await Promise.all(
        ['u1', 'u2', 'u3'].map((user) => stream(app, `user=${user}&room=a&room=b`)),
      );
      for (const client of clients) await joined(client);
      expect(await app.hub.roomInfo('a')).toMatchObject({ size: 3 });
      for (const client of clients) client.close();
      await until(() => app.hub.connections.count() === 0);
      expect(app.app.get(RealtimeSse).size).toBe(0);
      expect(await app.hub.roomMembers('a')).toEqual([]);
      expect(await app.hub.roomMembers('b')).toEqual([]);
    });

    it('shuts down promptly with streams open', async () => {
      const app = await startApp({ authenticate: userFromQuery });
      const clients = await Promise.all(
        [1, 2, 3].map(() => SseTestClient.open(`${httpBase(app)}/realtime/events?room=r&user=u`)),
      );
      const source = new EventSource(`${httpBase(app)}/realtime/events?room=r`);
      await new Promise((resolve) => source.addEventListener('rt:joined', resolve));
      const closing = Date.now();
      const closed = app.close();
      const timeout = new Promise((_, reject) =>
        setTimeout(() => reject(new Error('close hung')), 5_000),
      );
      await Promise.race([closed, timeout]);
      console.log(`app.close() with 4 SSE streams open: ${Date.now() - closing} ms`);
      source.close();
      await until(() => clients.every((client) => client.closed));
      expect(clients.map((client) => client.status)).toEqual([200, 200, 200]);
    });
  });

  describe('SSE: across transports', () => {
    it('a WebSocket publish reaches SSE streams, and an SSE publish reaches WebSocket clients', async () => {
      const app = await started();
      const sse = await stream(app, 'user=reader&room=lobby');
      await joined(sse);
      const { connectionId, publishToken } = dataOf(sse.events[0]!);
      const ws = libraryClient(harness, app, 'writer');
      const lobby = await ws.join('lobby');
      const heard: unknown[] = [];
      lobby.on('chat', (data) => heard.push(data));

      await ws.publish('lobby', 'chat', 'from ws');
      await sse.until(() => messages(sse).length === 1);
      expect(dataOf(messages(sse)[0]!)).toMatchObject({
        event: 'chat',
        data: 'from ws',
        room: 'lobby',
      });

      const reply = await post(
        app,
        '/realtime/events/publish',
        {
          connection: connectionId,
          token: publishToken,
          room: 'lobby',
          event: 'chat',
          data: 'from sse',
        },
        '?user=reader',
      );
      expect(reply).toEqual({
        status: 200,
        body: { room: 'lobby', epoch: expect.any(String), offset: 2 },
      });
      await until(() => heard.length === 1);
      expect(heard).toEqual(['from sse']);
      // Not echoed to the publishing stream unless asked.
      await post(
        app,
        '/realtime/events/publish',
        {
          connection: connectionId,
          token: publishToken,
          room: 'lobby',
          event: 'chat',
          data: 'echoed',
          echo: true,
        },
        '?user=reader',
      );
      await sse.until(() => messages(sse).length === 2);
      expect(messages(sse).map((e) => dataOf(e).data)).toEqual(['from ws', 'echoed']);
    });

    it('refuses a bad publish with a status and a code, and publishes nothing', async () => {
      const app = await started({
        rateLimit: { messagesPerSecond: 1, messageBurst: 3 },
        authorize: { canPublish: (_principal, _room, { event }) => event !== 'forbidden' },
      });
      const sse = await stream(app, 'user=reader&room=lobby');
      await joined(sse);
      const { connectionId: connection, publishToken: token } = dataOf(sse.events[0]!);
      const path = '/realtime/events/publish';
      const cases: [unknown, string, number, string][] = [
        // Anonymous here: not the stream's user.
        [{ connection, token, room: 'lobby', event: 'x' }, '', 403, 'FORBIDDEN'],
        [[1, 2], '?user=reader', 400, 'INVALID_DATA'],
        [{ room: 'lobby', event: 'x' }, '?user=reader', 400, 'INVALID_DATA'],
        [
          { connection, token: 'wrong', room: 'lobby', event: 'x' },
          '?user=reader',
          403,
          'FORBIDDEN',
        ],
        [{ connection, token, room: 'lobby', event: 'x' }, '?user=intruder', 403, 'FORBIDDEN'],
        [
          { connection: 'nope', token, room: 'lobby', event: 'x' },
          '?user=reader',
          403,
          'FORBIDDEN',
        ],
        [{ connection, token, room: 'elsewhere', event: 'x' }, '?user=reader', 403, 'NOT_IN_ROOM'],
        [{ connection, token, room: 'lobby', event: 'rt:x' }, '?user=reader', 400, 'INVALID_DATA'],
        [
          { connection, token, room: 'lobby', event: 'forbidden' },
          '?user=reader',
          403,
          'FORBIDDEN',
        ],
        [{ connection, token, room: 'lobby', event: 'x' }, '?user=reader', 429, 'RATE_LIMITED'],
      ];
      for (const [body, query, status, code] of cases) {
        const reply = await post(app, path, body, query);
        expect([body, reply.status, reply.body.error?.code]).toEqual([body, status, code]);
      }
      const form = await fetch(`${httpBase(app)}${path}?user=reader`, {
        method: 'POST',
        body: 'a=b',
      });
      expect(form.status).toBe(415); // not sent as JSON (publish-body.spec.ts)
      expect(messages(sse)).toEqual([]);
      expect(app.hub.connections.count()).toBe(1);
    });
  });

  describe('regressions', () => {
    describe('resume', () => {
      it('names every resumed room in the ids sent before rt:joined, so a second drop loses no room', async () => {
        const app = await startedWithReview({ history: { maxCount: 100 } });
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
        expect([messages(third).map((e) => dataOf(e).data), resynced]).toEqual([
          ['a2', 'b1'],
          false,
        ]);
      });

      it('says rt:resync for an unreadable id before a live event that arrives while the room is joined', async () => {
        const app = await startedWithReview();
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
        const app = await startedWithReview({ history: { maxCount: 10 } });
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

    describe('streams and the rest of the server', () => {
      it('does not let a stream spend the acknowledged messages of its user', async () => {
        const app = await startedWithReview({
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
        const app = await startedWithReview({ websocket: { maxConnectionsPerUser: 1 } });
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

      it('answers a HEAD request, and holds no stream for it (Express and Fastify route HEAD to the GET route)', async () => {
        const app = await startedWithReview();
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
  });
});
