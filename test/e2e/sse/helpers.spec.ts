// RealtimeSse helpers in the app's own @Sse() handlers: rooms with resume, a
// presence watch, any Observable; ids, keep-alive, refusals and cleanup.
import { Controller, Query, Req, Sse } from '@nestjs/common';
import type { Request as ExpressRequest } from 'express';
import type { FastifyRequest } from 'fastify';
import { request as httpRequest } from 'node:http';
import { interval, map, take } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { PresenceService, RealtimeSse, type RealtimeModuleOptions } from '../../../lib/index.js';
import { startApp, type TestApp, PLATFORMS, usePlatform } from '../../support/app.js';
import { libraryClient } from '../../support/client.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { dataOf, httpBase, SseTestClient } from '../../support/sse-client.js';
import { late, ReviewController } from '../../support/review-controller.js';

@Controller('live')
class LiveController {
  constructor(private readonly sse: RealtimeSse) {}

  @Sse('room')
  // Typed as either platform hands it over: rooms() takes both.
  room(@Req() request: ExpressRequest | FastifyRequest, @Query('user') user?: string) {
    return this.sse.rooms(request, ['news', 'alerts'], { principal: { userId: user } });
  }

  @Sse('watch')
  watch(@Query('users') users: string) {
    return this.sse.presence(users.split(','));
  }

  @Sse('ticks')
  ticks() {
    return this.sse.stream(
      interval(10).pipe(
        take(3),
        map((n) => ({ n })),
      ),
      { event: 'tick', id: ({ n }) => `t${n}` },
    );
  }

  @Sse('forever')
  forever() {
    return this.sse.stream(interval(60_000));
  }
}

const harness = withHarness();

const started = (options: RealtimeModuleOptions = {}): Promise<TestApp> =>
  harness.start({ authenticate: userFromQuery, ...options }, { controllers: [LiveController] });

async function open(app: TestApp, path: string, headers?: Record<string, string>) {
  const client = await SseTestClient.open(`http://127.0.0.1:${app.port}${path}`, headers);
  harness.defer(() => client.close());
  return client;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const startedWithReview = (options: RealtimeModuleOptions = {}): Promise<TestApp> =>
  harness.start({ authenticate: userFromQuery, ...options }, { controllers: [ReviewController] });

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('RealtimeSse helpers in @Sse() handlers', () => {
    it('rooms(): numbered room events that resume from Last-Event-ID, and cleanup when the client goes', async () => {
      const app = await started({ history: { maxCount: 100 } });
      const first = await open(app, '/live/room?user=u1');
      expect(first.status).toBe(200);
      await first.until(() => first.events.some((e) => e.event === 'rt:joined'));
      expect(dataOf(first.events[0]!)).toMatchObject({ userId: 'u1' });
      await app.hub.to('news').emit('headline', 1);
      await first.until(() => first.events.some((e) => e.event === 'headline'));
      const resumeFrom = first.lastEventId!;
      expect(resumeFrom).toMatch(/^[0-9a-z]+\.[\w-]+:1,[\w-]+:0$/); // news, alerts
      first.close();
      await until(() => app.hub.connections.count() === 0);
      expect(app.app.get(RealtimeSse).size).toBe(0);

      await app.hub.to('alerts').emit('alert', 'missed');
      const again = await open(app, '/live/room?user=u1', { 'last-event-id': resumeFrom });
      await again.until(() => again.events.some((e) => e.event === 'rt:joined'));
      expect(again.events.map((e) => e.event)).toEqual(['rt:connected', 'alert', 'rt:joined']);
      expect(dataOf(again.events[1]!)).toMatchObject({ data: 'missed', room: 'alerts', offset: 1 });
    });

    it('rooms(): refuses with 403 when authorize.canJoin says no, before any event', async () => {
      const app = await started({
        authorize: { canJoin: (principal) => principal.userId === 'ok' },
      });
      const refused = await open(app, '/live/room?user=nope');
      expect(refused.status).toBe(403);
      expect(JSON.parse((await refused.refusal(), refused.body))).toMatchObject({
        code: 'FORBIDDEN',
      });
      expect((await open(app, '/live/room?user=ok')).status).toBe(200);
    });

    it('presence(): the watched users states first, then their changes', async () => {
      const app = await started();
      const client = await open(app, '/live/watch?users=alice,bob');
      await client.until(() => client.events.filter((e) => e.event === 'rt:presence').length === 2);
      expect(client.events.slice(1).map((e) => dataOf(e).data.status)).toEqual([
        'offline',
        'offline',
      ]);
      const alice = libraryClient(harness, app, 'alice');
      await alice.ready;
      await client.until(() => client.events.length === 4);
      expect(dataOf(client.events[3]!)).toMatchObject({
        event: 'rt:presence',
        data: { userId: 'alice', status: 'online' },
      });
      await alice.setStatus('busy');
      await client.until(() => client.events.length === 5);
      expect(dataOf(client.events[4]!).data).toMatchObject({ userId: 'alice', status: 'busy' });
      client.close();
      await until(() => app.hub.connections.count() === 1); // alice alone
      expect(await app.app.get(PresenceService).getStatus('alice')).toMatchObject({
        status: 'busy',
      });
    });

    it('stream(): any Observable, with ids and event names, until it completes', async () => {
      const app = await started();
      const client = await open(app, '/live/ticks');
      await client.until(() => client.closed, 3_000).catch(() => undefined);
      await until(() => client.closed);
      expect(client.events).toEqual([
        { id: 't0', event: 'tick', data: '{"n":0}', comments: [] },
        { id: 't1', event: 'tick', data: '{"n":1}', comments: [] },
        { id: 't2', event: 'tick', data: '{"n":2}', comments: [] },
      ]);
    });

    it('keeps quiet helper streams alive, and ends them at shutdown', async () => {
      const app = await startApp(
        { sse: { keepAliveInterval: 30 } },
        { controllers: [LiveController] },
      );
      const client = await SseTestClient.open(`http://127.0.0.1:${app.port}/live/forever`);
      await client.until(() => client.blocks.filter((b) => b.comments.length > 0).length >= 2);
      const sse = app.app.get(RealtimeSse);
      expect(sse.size).toBe(1);
      // Promptly: not after the HTTP server's keep-alive timeout (5 s).
      const timeout = new Promise((_, reject) =>
        setTimeout(() => reject(new Error('slow')), 3_000),
      );
      await Promise.race([app.close(), timeout]);
      await until(() => client.closed);
      expect(sse.size).toBe(0);
    });
  });

  describe('regressions', () => {
    describe('helpers', () => {
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
        const app = await startedWithReview({ presence: { maxWatchedPerConnection: 1 } });
        const client = await SseTestClient.open(`${httpBase(app)}/review/watch?users=alice,bob`);
        harness.defer(() => client.close());
        // A 200 that ends at once makes an EventSource reconnect every `retry` ms, forever.
        expect(client.status).toBe(400);
      });
    });
  });
});
