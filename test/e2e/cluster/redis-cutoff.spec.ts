// One node cut off from Redis (a TCP proxy between them is cut, then mended) while
// another keeps publishing: the cut-off node's clients get every message of their
// rooms once, in order, replayed from the rooms' streams, or are told with
// rt:resync where their room goes on from when the stream no longer keeps them.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../../lib/client/index.js';
import { startApp, type TestApp } from '../../support/app.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { redisAvailable, startRedis, type RedisServer } from '../../support/redis.js';
import { SseTestClient, dataOf, httpBase, messages, openStream } from '../../support/sse-client.js';
import { feedReader } from '../../support/client.js';
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.js';
import { TestClient, eventIs } from '../../support/ws-client.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Publishes `from`..`to` on `node`, one every 2 ms. */
async function publish(node: TestApp, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) {
    await node.hub.to('feed').emit('tick', n);
    await sleep(2);
  }
}

describe.runIf(redisAvailable())('a node cut off from Redis while others publish', () => {
  let redis: RedisServer;
  let tests = 0;
  const proxies: TcpProxy[] = [];
  const harness = withHarness();
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(proxies.map((proxy) => proxy.close()));
    await redis.stop();
  });

  /** Node A reaches Redis through a proxy the test cuts; node B directly. */
  async function nodes(maxCount: number): Promise<[TestApp, TestApp, TcpProxy]> {
    const proxy = await startTcpProxy(redis.port);
    proxies.push(proxy); // closed after the apps
    const prefix = `cut${++tests}:`;
    const common = { authenticate: userFromQuery, history: { maxCount } };
    const a = await startApp({
      ...common,
      engine: { type: 'redis', url: `redis://127.0.0.1:${proxy.port}`, prefix },
    });
    const b = await startApp({ ...common, engine: { type: 'redis', url: redis.url, prefix } });
    harness.track(a);
    harness.track(b);
    return [a, b, proxy];
  }

  it('replays what the node missed, before later messages: every client gets each message once, in order', async () => {
    const [a, b, proxy] = await nodes(10_000);
    const { client, seen, resyncs } = await feedReader(harness, a, 'una');
    const stream = await openStream(harness, a, 'room=feed');

    await publish(b, 1, 59);
    proxy.cut();
    await publish(b, 60, 200); // A hears none of these live
    proxy.mend();
    await publish(b, 201, 300); // while A reconnects and refills
    await until(() => seen.length >= 300, 10_000);
    await stream.until(() => messages(stream).length >= 300, 5_000);

    const all = range(1, 300);
    expect(seen).toEqual(all);
    expect(resyncs).toEqual([]);
    expect(messages(stream).map((block) => dataOf(block).data)).toEqual(all);
    expect(stream.events.filter((e) => e.event === 'rt:resync')).toEqual([]);
    // The client stayed on its node throughout: nothing was recovered by reconnecting.
    expect(client.state).toBe('connected');
  }, 30_000);

  it('tells the clients with rt:resync where the room goes on from when the missed messages are no longer kept', async () => {
    const [a, b, proxy] = await nodes(5);
    const { seen, resyncs } = await feedReader(harness, a, 'vic');
    const raw = await harness.connect(`${a.wsUrl}?user=raw`);
    await raw.request('rt:join', { room: 'feed' });
    const stream = await openStream(harness, a, 'room=feed');

    await publish(b, 1, 19);
    await until(() => seen.length === 19);
    proxy.cut();
    await publish(b, 20, 100); // A hears none of these, and Redis keeps only 96..100
    proxy.mend();
    await until(() => resyncs.length === 1, 10_000);
    await publish(b, 101, 150);
    await until(() => seen.at(-1) === 150, 10_000);

    // 1..19 came live; the loss of 20..100 was told once, with the place the room goes
    // on from; then 101..150, in order. Nothing was handed over twice.
    expect(resyncs).toMatchObject([{ name: 'feed', offset: 100, recovered: false }]);
    expect(seen).toEqual([...range(1, 19), ...range(101, 150)]);
    const from = 100;

    // A raw WebSocket client gets the rt:resync frame; an SSE stream the rt:resync event.
    const notice = await raw.next(eventIs('rt:resync'), 5_000);
    expect(notice.data).toEqual({ room: 'feed', epoch: resyncs[0]!.epoch, offset: from });
    await stream.until(() => stream.events.some((e) => e.event === 'rt:resync'));
    const resync = stream.events.find((e) => e.event === 'rt:resync')!;
    expect(JSON.parse(resync.data!)).toEqual({
      room: 'feed',
      epoch: resyncs[0]!.epoch,
      offset: from,
    });
  }, 30_000);
});

describe.runIf(redisAvailable())('a room left while the node was cut off', () => {
  const harness = withHarness();

  it('is no longer subscribed once the node is back (ioredis would have brought it back)', async () => {
    const redis = await startRedis();
    const proxy = await startTcpProxy(redis.port);
    const probe = new Redis(redis.url);
    harness.defer(async () => {
      probe.disconnect();
      await proxy.close();
      await redis.stop();
    });
    const app = harness.track(
      await startApp({
        authenticate: userFromQuery,
        engine: { type: 'redis', url: `redis://127.0.0.1:${proxy.port}`, prefix: 'left:' },
      }),
    );
    // Subscribers of a channel, sharded (Redis 7) or classic.
    const subscribers = async (channel: string) => {
      const [, sharded] = (await probe.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
      const [, classic] = (await probe.pubsub('NUMSUB', channel)) as [string, number];
      return Number(sharded) + Number(classic);
    };
    const client = await harness.connect(`${app.wsUrl}?user=lea`);
    await client.request('rt:join', { room: 'gone' });
    await until(async () => (await subscribers('left:ch:r:gone')) === 1, 5_000);
    proxy.cut();
    await until(() => !app.hub.engineAvailable, 5_000);
    await client.close(); // its node cannot tell Redis: it is down
    proxy.mend();
    await until(() => app.hub.engineAvailable, 10_000);
    await until(async () => (await subscribers('left:ch:r:gone')) === 0, 5_000);
    expect(await subscribers('left:ch:r:gone')).toBe(0);
  }, 30_000);
});

describe.runIf(redisAvailable())('a node cut off while Redis restarts empty', () => {
  const harness = withHarness();

  it("tells the loss of the old epoch's tail, then hands over the new epoch from its start", async () => {
    let redis = await startRedis();
    const proxy = await startTcpProxy(redis.port);
    harness.defer(async () => {
      await proxy.close();
      await redis.stop();
    });
    const common = { authenticate: userFromQuery, history: { maxCount: 1_000 } };
    const a = harness.track(
      await startApp({
        ...common,
        engine: { type: 'redis', url: `redis://127.0.0.1:${proxy.port}` },
      }),
    );
    const b = harness.track(
      await startApp({ ...common, engine: { type: 'redis', url: redis.url } }),
    );
    const { seen, resyncs } = await feedReader(harness, a, 'una');

    await publish(b, 1, 10);
    await until(() => seen.length === 10);
    proxy.cut();
    // Redis restarts empty: the old epoch's history is gone; B publishes into a new one.
    const port = redis.port;
    await redis.stop('SIGKILL');
    await until(() => !b.hub.engineAvailable, 5_000);
    redis = await startRedis(port);
    await until(() => b.hub.engineAvailable, 10_000);
    await publish(b, 11, 30);
    proxy.mend();
    await publish(b, 31, 40);
    await until(() => seen.at(-1) === 40, 10_000);
    // Nothing of the old epoch was lost (1..10 came before the restart); the new epoch
    // came whole, from its first message, after one resync that says where it starts.
    expect(seen).toEqual(range(1, 40));
    expect(resyncs).toHaveLength(1);
    expect(resyncs[0]).toMatchObject({ offset: 0, recovered: false });
  }, 30_000);
});

describe.runIf(redisAvailable())('a node whose Redis is unreachable', () => {
  it('closes promptly, with its clients and streams', async () => {
    const redis = await startRedis();
    const proxy = await startTcpProxy(redis.port);
    try {
      const app = await startApp({
        authenticate: userFromQuery,
        engine: { type: 'redis', url: `redis://127.0.0.1:${proxy.port}` },
      });
      const client = new RealtimeClient(`${app.wsUrl}?user=wen`, { WebSocket });
      await client.subscribe('feed', { presence: true }).ready;
      const stream = await SseTestClient.open(`${httpBase(app)}/realtime/events?room=feed`);
      const raw = await TestClient.connect(`${app.wsUrl}?user=raw`);
      await raw.request('rt:join', { room: 'feed' });
      proxy.cut();
      await until(() => !app.hub.engineAvailable, 5_000);
      const started = Date.now();
      await app.close();
      expect(Date.now() - started).toBeLessThan(5_000);
      await client.close();
      await stream.until(() => stream.closed);
      expect(await raw.close()).toBe(1001);
    } finally {
      await proxy.close();
      await redis.stop();
    }
  }, 30_000);
});
