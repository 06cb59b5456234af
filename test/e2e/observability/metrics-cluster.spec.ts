// The metrics of two app nodes on one engine (a shared memory store, and a real
// redis-server), each with its own registry and /metrics: what each node counts of a
// room that spans both, the cross-node lag, node requests, and the engine's health.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { RealtimeModuleOptions } from '../../../lib/index.js';
import type { TestApp } from '../../support/app.js';
import { join, until, userFromQuery, withHarness, type Harness } from '../../support/fixtures.js';
import { scrape, type Scrape } from '../../support/prometheus.js';
import { redisAvailable, redisForSuite, startRedis } from '../../support/redis.js';
import { eventIs } from '../../support/ws-client.js';

const HAVE_REDIS = redisAvailable();
let clusters = 0;

/** Two nodes on `engine`, each with a registry of its own served at /metrics. */
async function twoNodes(
  harness: Harness,
  engine: RealtimeModuleOptions['engine'],
): Promise<[TestApp, TestApp]> {
  const node = () =>
    harness.start({
      authenticate: userFromQuery,
      // No presence: its diffs are room messages too, and would be counted with the chat.
      presence: false,
      engine,
      metrics: { type: 'prometheus', registry: new Registry(), path: '/metrics' },
    });
  return [await node(), await node()];
}

const scrapeOf = (node: TestApp): Promise<Scrape> =>
  scrape(`http://127.0.0.1:${node.port}/metrics`);

const CASES = [
  { name: 'one shared memory store', onRedis: false },
  ...(HAVE_REDIS ? [{ name: 'one Redis', onRedis: true }] : []),
];

describe.each(CASES)('metrics of two nodes on $name', ({ onRedis }) => {
  const harness = withHarness();
  const redis = redisForSuite(onRedis);
  /** A fresh store, or prefix, for each pair of nodes. */
  const engine = (): RealtimeModuleOptions['engine'] =>
    onRedis
      ? { type: 'redis', url: redis().url, prefix: `metrics${++clusters}:` }
      : { type: 'memory', shared: `metrics-${process.pid}-${++clusters}` };

  it('counts publishes where they are made, deliveries and lag where they arrive, node requests where they are asked', async () => {
    const [a, b] = await twoNodes(harness, engine());
    const alice = await harness.connect(`${a.wsUrl}?user=alice`);
    const bob = await harness.connect(`${b.wsUrl}?user=bob`);
    await join(alice, 'lobby');
    await join(bob, 'lobby');
    for (let i = 0; i < 3; i++) {
      const reply = await alice.request('rt:publish', { room: 'lobby', event: 'chat', data: i });
      expect(reply.error).toBeUndefined();
    }
    await a.hub.to('lobby').emit('news', 'hi');
    for (let i = 0; i < 3; i++) expect((await bob.next(eventIs('chat'))).data).toBe(i);
    await bob.next(eventIs('news'));
    await alice.next(eventIs('news'));

    const [onA, onB] = await Promise.all([scrapeOf(a), scrapeOf(b)]);
    expect(onA.value('realtime_publishes_total', { origin: 'websocket' })).toBe(3);
    expect(onA.value('realtime_publishes_total', { origin: 'server' })).toBe(1);
    expect(onB.value('realtime_publishes_total')).toBe(0);
    // No echo: alice is handed the server's emit only; bob all four.
    expect(onA.value('realtime_deliveries_total', { transport: 'websocket' })).toBe(1);
    expect(onB.value('realtime_deliveries_total', { transport: 'websocket' })).toBe(4);
    // Lag is measured on the node a message arrives at from another, once a message.
    expect(onB.value('realtime_pubsub_lag_seconds_count')).toBe(4);
    expect(onB.value('realtime_pubsub_lag_seconds_bucket', { le: '+Inf' })).toBe(4);
    expect(onA.value('realtime_pubsub_lag_seconds_count')).toBe(0);
    for (const seen of [onA, onB]) {
      expect(seen.value('realtime_engine_available')).toBe(1);
      expect(seen.value('realtime_connections', { transport: 'websocket' })).toBe(1);
      expect(seen.value('realtime_room_joins_total', { transport: 'websocket' })).toBe(1);
      expect(seen.value('realtime_node_request_seconds_count')).toBe(0);
    }

    // Node A puts bob (on node B) in a room: a request from A, a join on B.
    await a.hub.join(bob.connectionId, 'other');
    expect(b.hub.connectionRooms(bob.connectionId)).toContain('other');
    const [thenA, thenB] = await Promise.all([scrapeOf(a), scrapeOf(b)]);
    expect(
      thenA.value('realtime_node_request_seconds_count', { kind: 'join', outcome: 'ok' }),
    ).toBe(1);
    expect(thenA.value('realtime_node_request_seconds_count')).toBe(1);
    expect(thenB.value('realtime_node_request_seconds_count')).toBe(0);
    expect(thenB.value('realtime_room_joins_total', { transport: 'websocket' })).toBe(2);
    expect(thenA.value('realtime_room_joins_total', { transport: 'websocket' })).toBe(1);
    expect(thenB.value('realtime_room_memberships')).toBe(2);
  });
});

describe.runIf(HAVE_REDIS)('metrics of two nodes when their Redis goes', () => {
  const harness = withHarness();

  it('both nodes report the engine unavailable', async () => {
    const server = await startRedis();
    harness.defer(() => server.stop());
    const [a, b] = await twoNodes(harness, { type: 'redis', url: server.url, prefix: 'gone:' });
    for (const node of [a, b])
      expect((await scrapeOf(node)).value('realtime_engine_available')).toBe(1);

    await server.stop();
    // Each node's engine notices on its own; /metrics still answers meanwhile.
    await until(async () => {
      const seen = await Promise.all([scrapeOf(a), scrapeOf(b)]);
      return seen.every((one) => one.value('realtime_engine_available') === 0);
    }, 10_000);
    for (const node of [a, b]) expect(node.hub.engineAvailable).toBe(false);
  });
});
