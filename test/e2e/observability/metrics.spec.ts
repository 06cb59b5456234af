import type { IncomingMessage } from 'node:http';
import type { CanActivate } from '@nestjs/common';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CloseCode, RpcService, type RealtimeModuleOptions } from '../../../lib/index.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import {
  appForEachTest,
  join,
  queryParam,
  recordUncaught,
  until,
  userFromQuery,
  withHarness,
} from '../../support/fixtures.js';
import { scrape } from '../../support/prometheus.js';
import { TestClient, eventIs } from '../../support/ws-client.js';

/** A user from `?user=`; none is refused (401). */
function userOrRefuse(request: IncomingMessage) {
  const user = queryParam(request, 'user');
  return user ? { userId: user } : undefined;
}

const BYTE_BURST = 4096;
/** A frame of exactly 100 bytes: 40 fit the byte burst, and no time refills one (1 byte/s). */
const HUNDRED_BYTES = JSON.stringify({ event: 'rt:pong', data: 'x'.repeat(71) });

const options: RealtimeModuleOptions = {
  authenticate: userOrRefuse,
  presence: false,
  history: { maxCount: 100 },
  websocket: { maxBufferedBytes: 64 * 1024, closeTimeout: 300, maxPayload: BYTE_BURST },
  rateLimit: {
    messagesPerSecond: 1_000,
    messageBurst: 1_000,
    bytesPerSecond: 1,
    byteBurst: BYTE_BURST,
    maxRefused: 1_000,
  },
  metrics: { type: 'prometheus', registry: new Registry(), path: '/metrics' },
};

describe.each(PLATFORMS)('metrics over %s', (platform) => {
  usePlatform(platform);
  const rt = appForEachTest(options);
  const metricsUrl = () => `http://127.0.0.1:${rt.app.port}/metrics`;

  it('counts a scripted scenario exactly, and /metrics serves it as Prometheus text', async () => {
    const rpc = rt.app.app.get(RpcService);
    rpc.register('sum', (params) => (params as number[]).reduce((a, b) => a + b, 0));
    rpc.register('fail', () => {
      throw new Error('no');
    });
    const url = rt.app.wsUrl;

    // Refused: no user (401), and a page of another site (403).
    await expect(TestClient.open(url)).rejects.toThrow('HTTP 401');
    await expect(
      TestClient.open(`${url}?user=mallory`, { origin: 'http://evil.example' }),
    ).rejects.toThrow('HTTP 403');

    const alice = await rt.connect('alice');
    const bob = await rt.connect('bob');
    await join(alice, 'lobby');
    await join(bob, 'lobby');
    let last: { epoch: string; offset: number } | undefined;
    for (let i = 0; i < 3; i++) {
      const reply = await alice.request('rt:publish', { room: 'lobby', event: 'chat', data: i });
      last = reply.data;
    }
    await rt.hub.to('lobby').emit('news', 'hi'); // to alice and bob
    for (let i = 0; i < 3; i++) await bob.next(eventIs('chat'));
    await bob.next(eventIs('news'));
    await alice.next(eventIs('news'));

    expect((await alice.request('rt:call', { method: 'sum', params: [1, 2] })).data).toBe(3);
    expect((await alice.request('rt:call', { method: 'fail' })).error).toBeDefined();

    // Recovery: carl resumes from two messages back (replayed: 2 deliveries); dave names
    // an epoch the room never had (resync).
    const carl = await rt.connect('carl');
    const resumed = await carl.request('rt:join', {
      room: 'lobby',
      since: { epoch: last!.epoch, offset: last!.offset - 1 },
    });
    expect(resumed.data.recovered).toBe(true);
    const dave = await rt.connect('dave');
    const lost = await dave.request('rt:join', {
      room: 'lobby',
      since: { epoch: 'nope', offset: 1 },
    });
    expect(lost.data.recovered).toBe(false);
    await carl.request('rt:leave', { room: 'lobby' });
    await dave.request('rt:leave', { room: 'lobby' });

    // Rate limit: 45 frames of 100 bytes against a 4096-byte burst: 5 refused.
    expect(HUNDRED_BYTES.length).toBe(100);
    const eve = await rt.connect('eve');
    for (let i = 0; i < 45; i++) eve.send(HUNDRED_BYTES);
    await eve.next((frame) => frame.event === 'rt:error');
    await until(async () => {
      const now = await scrape(metricsUrl());
      return now.value('realtime_frames_dropped_total', { reason: 'rate_limited' }) === 5;
    });

    // A slow consumer: frank stops reading; server messages pile up until it is cut.
    const frank = await rt.connect('frank');
    await join(frank, 'slow');
    frank.socket.pause();
    const frankSide = rt.hub.connections.listByUser('frank')[0]!;
    let emitted = 0;
    while (frankSide.isOpen && emitted < 1_000) {
      await rt.hub.to('slow').emit('tick', 'x'.repeat(16 * 1024));
      emitted++;
    }
    expect(frankSide.isOpen).toBe(false);
    await until(() => rt.hub.connections.countByUser('frank') === 0);
    frank.socket.terminate(); // it reads nothing: it would never see the close

    const seen = await scrape(metricsUrl());
    const at = (name: string, labels?: Record<string, string>) => seen.value(name, labels);
    expect(at('realtime_handshakes_refused_total', { reason: 'unauthenticated' })).toBe(1);
    expect(at('realtime_handshakes_refused_total', { reason: 'origin' })).toBe(1);
    expect(at('realtime_connections_opened_total', { transport: 'websocket' })).toBe(6);
    expect(at('realtime_connections_closed_total', { code: String(CloseCode.SlowConsumer) })).toBe(
      1,
    );
    expect(at('realtime_slow_consumers_cut_total', { transport: 'websocket' })).toBe(1);
    expect(at('realtime_connections', { transport: 'websocket' })).toBe(5);
    expect(at('realtime_room_joins_total', { transport: 'websocket' })).toBe(5);
    expect(at('realtime_room_leaves_total', { cause: 'leave' })).toBe(2);
    // frank's membership went with its connection.
    expect(at('realtime_room_leaves_total', { cause: 'disconnect' })).toBe(1);
    expect(at('realtime_rooms')).toBe(1);
    expect(at('realtime_room_memberships')).toBe(2);
    expect(at('realtime_publishes_total', { origin: 'websocket' })).toBe(3);
    expect(at('realtime_publishes_total', { origin: 'server' })).toBe(1 + emitted);
    // bob 3 + news to alice and bob 2 + carl's replay 2 + frank's ticks.
    expect(at('realtime_deliveries_total', { transport: 'websocket' })).toBe(7 + emitted);
    expect(at('realtime_recoveries_total', { outcome: 'recovered', reason: 'ok' })).toBe(1);
    expect(at('realtime_recoveries_total', { outcome: 'resync', reason: 'epoch_changed' })).toBe(1);
    expect(at('realtime_history_reads_total', { kind: 'join' })).toBe(5);
    expect(at('realtime_frames_dropped_total', { reason: 'rate_limited' })).toBe(5);
    expect(at('realtime_rpc_calls_total', { direction: 'client_to_server', outcome: 'ok' })).toBe(
      1,
    );
    expect(
      at('realtime_rpc_calls_total', { direction: 'client_to_server', outcome: 'error' }),
    ).toBe(1);
    expect(at('realtime_rpc_duration_seconds_count', { direction: 'client_to_server' })).toBe(2);
    expect(at('realtime_engine_available')).toBe(1);
    // The tick that found frank over the bound was not sent.
    expect(at('realtime_bytes_sent_total')).toBeGreaterThan((emitted - 1) * 16 * 1024);
    expect(at('realtime_frames_sent_total')).toBeGreaterThan(at('realtime_deliveries_total'));
    expect(seen.types.get('realtime_deliveries_total')).toBe('counter');
    expect(seen.types.get('realtime_rpc_duration_seconds')).toBe('histogram');
    expect(seen.types.get('realtime_connections')).toBe('gauge');

    // Connections that go keep their counts in the totals: no counter goes down.
    const before = at('realtime_deliveries_total');
    const framesBefore = at('realtime_frames_sent_total');
    for (const client of [alice, bob, carl, dave, eve]) await client.close();
    await until(() => rt.hub.connections.count() === 0);
    const after = await scrape(metricsUrl());
    expect(after.value('realtime_deliveries_total')).toBe(before);
    expect(after.value('realtime_frames_sent_total')).toBeGreaterThanOrEqual(framesBefore);
    // The test clients close without a status: the server reads 1005.
    expect(after.value('realtime_connections_closed_total', { code: '1005' })).toBe(5);
    expect(after.value('realtime_connections')).toBe(0);
  });

  it('serves /metrics under the global prefix, behind the app’s global guards', async () => {
    const guard: CanActivate = {
      canActivate: (context) =>
        context.switchToHttp().getRequest().headers['x-scraper'] === 'prometheus',
    };
    const app = await rt.harness.start(
      { metrics: { type: 'prometheus', registry: new Registry(), path: '/metrics' } },
      {},
      {
        configure: (nest) => {
          nest.setGlobalPrefix('api');
          nest.useGlobalGuards(guard);
        },
      },
    );
    const at = (path: string, headers: Record<string, string> = {}) =>
      fetch(`http://127.0.0.1:${app.port}${path}`, { headers });
    expect((await at('/api/metrics')).status).toBe(403);
    const allowed = await at('/api/metrics', { 'x-scraper': 'prometheus' });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get('content-type')).toContain('text/plain');
    expect(await allowed.text()).toContain('# TYPE realtime_connections_opened_total counter');
    expect((await at('/metrics', { 'x-scraper': 'prometheus' })).status).toBe(404);
  });
});

describe('close codes as labels', () => {
  const harness = withHarness();

  // Regression: the client's own close code was the label, and a client may choose any
  // of 3000-4999: the 1001st distinct code overflowed the family, which threw out of
  // the socket's close handler (an uncaught exception) before the connection left its
  // rooms. Counting is always on: an app without metrics was hit as well.
  it('1001 clients closing with distinct codes: bounded labels, no uncaught exception, every one leaves its rooms', async () => {
    const uncaught = recordUncaught(harness);
    const registry = new Registry();
    const app = await harness.start({
      authenticate: userFromQuery,
      presence: false,
      metrics: { type: 'prometheus', registry, path: '/metrics' },
    });
    for (let i = 0; i <= 1_000; i++) {
      const client = await harness.connect(`${app.wsUrl}?user=u${i}`);
      await join(client, 'lobby');
      client.socket.close(3000 + i);
      await client.closed;
    }
    await until(() => app.hub.connections.count() === 0, 10_000);
    expect(uncaught.map(String)).toEqual([]);
    await until(async () => (await app.hub.roomInfo('lobby')) === undefined);
    const seen = await scrape(`http://127.0.0.1:${app.port}/metrics`);
    const closed = seen.series('realtime_connections_closed_total');
    expect(closed.map(({ labels, value }) => ({ labels, value }))).toEqual([
      { labels: { transport: 'websocket', code: 'other' }, value: 1_001 },
    ]);
  }, 60_000);
});
