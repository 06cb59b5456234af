// Regression tests from a review of the cross-node link, acknowledged delivery across
// nodes and the Redis engine's refill after a cut-off. Each test fails against the code
// it was written for, for the reason its name gives.
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeliveryService,
  RpcService,
  type RealtimeModuleOptions,
  type Undeliverable,
} from '../../lib/index.js';
import type { TestApp } from '../support/app.js';
import { feedReader, libraryClient } from '../support/client.js';
import { recordUncaught, until, userFromQuery, withHarness } from '../support/fixtures.js';
import { openStream } from '../support/sse-client.js';
import { redisAvailable, startRedis, type RedisServer } from '../support/redis.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Publishes `from`..`to` to room `feed` on `node`. */
async function publish(node: TestApp, from: number, to: number): Promise<void> {
  for (let n = from; n <= to; n++) await node.hub.to('feed').emit('tick', n);
}

/**
 * A TCP proxy between one node and Redis that can cut that node's pub/sub connection
 * alone (the one that sent SUBSCRIBE or SSUBSCRIBE), as Redis does to a subscriber past
 * its output buffer limit, while its command connection stays up; until `mend`, every
 * new connection (the subscriber coming back) is refused.
 */
interface SubscriberProxy {
  readonly port: number;
  /** Subscriber connections through the proxy now. */
  subscribers(): number;
  /** Drops the subscriber connection; it may come back at once. */
  dropSubscriber(): void;
  cutSubscriber(): void;
  mend(): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
  subscriber: boolean;
}

const SUBSCRIBE = /subscribe/i;

async function startSubscriberProxy(targetPort: number): Promise<SubscriberProxy> {
  const pairs = new Set<Pair>();
  let refusing = false;
  const server: Server = createServer((client) => {
    client.on('error', () => client.destroy());
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    upstream.on('error', () => upstream.destroy());
    const pair: Pair = { client, upstream, subscriber: false };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => {
      if (!pair.subscriber && SUBSCRIBE.test(chunk.toString('latin1'))) pair.subscriber = true;
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('close', () => {
      upstream.destroy();
      pairs.delete(pair);
    });
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    subscribers: () => [...pairs].filter((pair) => pair.subscriber).length,
    dropSubscriber() {
      for (const pair of pairs) if (pair.subscriber) pair.client.destroy();
    },
    cutSubscriber() {
      refusing = true;
      for (const pair of pairs) if (pair.subscriber) pair.client.destroy();
    },
    mend() {
      refusing = false;
    },
    close() {
      refusing = true;
      for (const pair of pairs) pair.client.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Blocks Redis's write commands (scripts included) for `ms`: a refill's read waits meanwhile. */
async function pauseWrites(admin: Redis, ms: number): Promise<void> {
  await admin.call('CLIENT', 'PAUSE', String(ms), 'WRITE');
}

describe('cross-node link and delivery (two nodes on one shared memory store)', () => {
  const harness = withHarness();
  let cluster = 0;
  const nodes = async () => {
    const options: RealtimeModuleOptions = {
      authenticate: userFromQuery,
      engine: { type: 'memory', shared: `review-${process.pid}-${++cluster}` },
    };
    return [await harness.start(options), await harness.start(options)] as const;
  };

  it('a waiting message reaches a user who comes back on another node within presence.offlineDelay', async () => {
    const [a, b] = await nodes();
    // Erin was on node A and left: presence keeps her record, with no connection, for
    // offlineDelay (5 s by default), so her coming back is not "online" news.
    const first = await harness.connect(`${a.wsUrl}?user=erin`);
    await first.close();
    await until(async () => a.hub.connections.count() === 0);
    const delivery = b.app.get(DeliveryService);
    const failed: Undeliverable[] = [];
    delivery.onUndeliverable((u) => failed.push(u));
    await delivery.send({ userId: 'erin' }, 'hello', 'waited', { ttl: 4_000 });
    await sleep(100); // node B found nobody and waits
    const erin = libraryClient(harness, a, 'erin');
    const got: unknown[] = [];
    erin.on('hello', (data) => got.push(data));
    await erin.ready;
    // She is connected (on node A) for the whole time to live: the message must reach her.
    await until(() => got.length === 1 || failed.length > 0, 4_500);
    expect(failed).toEqual([]);
    expect(got).toEqual(['waited']);
  }, 10_000);

  it('a user whose only connection on another node is an SSE stream (which cannot acknowledge) is waited for, as on one node', async () => {
    const options: RealtimeModuleOptions = {
      authenticate: userFromQuery,
      engine: { type: 'memory', shared: `review-${process.pid}-${++cluster}` },
      delivery: { ackTimeout: 100 },
    };
    const a = await harness.start(options);
    const b = await harness.start(options);
    await openStream(harness, a, 'user=sam&room=news');
    await until(() => a.hub.connections.count() === 1);
    const delivery = b.app.get(DeliveryService);
    const failed: Undeliverable[] = [];
    delivery.onUndeliverable((u) => failed.push(u));
    await delivery.send({ userId: 'sam' }, 'hello', 'for a socket', {
      ttl: 10_000,
      maxAttempts: 2,
    });
    // Node B counts the stream as a recipient: it sends twice to nobody that can
    // acknowledge, and gives up ("attempts") instead of waiting for a connection.
    await sleep(800);
    const sam = libraryClient(harness, a, 'sam');
    const got: unknown[] = [];
    sam.on('hello', (data) => got.push(data));
    await sam.ready;
    await until(() => got.length === 1 || failed.length > 0, 3_000);
    expect(failed).toEqual([]);
    expect(got).toEqual(['for a socket']);
  }, 10_000);

  it("RpcService.call(id) of another node's connection with params that are not JSON fails with INVALID_DATA, as a local call does", async () => {
    const [a, b] = await nodes();
    const alice = libraryClient(harness, a, 'alice');
    alice.answer('echo', (params) => params);
    const { connectionId } = await alice.ready;
    const params = { n: 1n };
    // The same call on the connection's own node:
    await expect(a.app.get(RpcService).call(connectionId, 'echo', params)).rejects.toMatchObject({
      name: 'RealtimeError',
      code: 'INVALID_DATA',
    });
    // Through node B: a TypeError from JSON.stringify instead.
    await expect(b.app.get(RpcService).call(connectionId, 'echo', params)).rejects.toMatchObject({
      name: 'RealtimeError',
      code: 'INVALID_DATA',
    });
  });
});

describe.runIf(redisAvailable())(
  'Redis engine: refill after the subscriber connection drops',
  () => {
    let redis: RedisServer;
    let admin: Redis;
    let tests = 0;
    const proxies: SubscriberProxy[] = [];
    const harness = withHarness();
    beforeAll(async () => {
      redis = await startRedis();
      admin = new Redis(redis.url);
    });
    afterAll(async () => {
      admin.disconnect();
      await Promise.all(proxies.map((proxy) => proxy.close()));
      await redis.stop();
    });

    /** Node A reaches Redis through a proxy that cuts its subscriber; node B directly. */
    async function nodes(retry = 20): Promise<[TestApp, TestApp, SubscriberProxy]> {
      const proxy = await startSubscriberProxy(redis.port);
      proxies.push(proxy);
      const prefix = `review${++tests}:`;
      const common = { authenticate: userFromQuery, history: { maxCount: 10_000 } };
      const a = await harness.start({
        ...common,
        engine: {
          type: 'redis',
          url: `redis://127.0.0.1:${proxy.port}`,
          prefix,
          redis: { retryStrategy: () => retry },
        },
      });
      const b = await harness.start({
        ...common,
        engine: { type: 'redis', url: redis.url, prefix },
      });
      return [a, b, proxy];
    }

    it('a second drop while a refill reads Redis is refilled too: no message is lost without a resync', async () => {
      // ioredis comes back 1 s after a drop (a plain backoff step).
      const [a, b, proxy] = await nodes(1_000);
      const { seen, resyncs } = await feedReader(harness, a, 'una');
      await publish(b, 1, 5);
      await until(() => seen.length === 5);

      // t=0: writes paused for 2 s; drop 1: back at t=1 s, its refill's read waits till t=2 s.
      await pauseWrites(admin, 2_000);
      proxy.dropSubscriber();
      await until(() => proxy.subscribers() === 0);
      await until(() => proxy.subscribers() === 1, 3_000);
      await sleep(300);
      // t=1.3 s: drop 2, while that read waits: back at t=2.3 s.
      proxy.dropSubscriber();
      await until(() => proxy.subscribers() === 0);
      await sleep(800);
      // t=2.1 s: the refill of drop 1 is over; node A does not hear these.
      await publish(b, 6, 10);
      await until(() => proxy.subscribers() === 1, 3_000);
      await sleep(300);
      await publish(b, 11, 15);
      await until(() => seen.at(-1) === 15, 5_000);

      // Every message once, in order; or else a resync for what went missing.
      expect({ seen, resyncs: resyncs.length }).toEqual({ seen: range(1, 15), resyncs: 0 });
    }, 30_000);

    it('two refills that overlap (the subscriber dropped again while the first one read) do not throw', async () => {
      const rejections: unknown[] = [];
      const record = (reason: unknown) => rejections.push(reason);
      process.on('unhandledRejection', record);
      harness.defer(() => process.off('unhandledRejection', record));
      const [a, b, proxy] = await nodes();
      const { seen } = await feedReader(harness, a, 'una');
      await publish(b, 1, 5);
      await until(() => seen.length === 5);

      await pauseWrites(admin, 1_000);
      for (let cut = 0; cut < 2; cut++) {
        proxy.cutSubscriber();
        await until(() => proxy.subscribers() === 0);
        await sleep(50);
        proxy.mend();
        await until(() => proxy.subscribers() === 1);
        await sleep(200); // subscribed, PING answered: a refill waits for its read
      }
      await sleep(1_000); // writes resume: both reads answer
      await publish(b, 6, 10);
      await until(() => seen.at(-1) === 10, 5_000);
      expect(seen).toEqual(range(1, 10));
      // The second refill found the feed's held messages taken by the first one:
      // "held is not iterable", an unhandled rejection (a crash, on Node's default settings).
      expect(rejections.map(String)).toEqual([]);
    }, 30_000);
  },
);

describe.runIf(redisAvailable())(
  'Redis engine: clients of the user’s own, and node channels',
  () => {
    let redis: RedisServer;
    const harness = withHarness();
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis.stop());

    it('two apps with their own prefixes on one pair of the user’s clients do not get each other’s room messages', async () => {
      const client = new Redis(redis.url, { enableOfflineQueue: false });
      const subscriber = new Redis(redis.url, { enableOfflineQueue: false });
      harness.defer(() => {
        client.disconnect();
        subscriber.disconnect();
      });
      const engine = (prefix: string) => ({ type: 'redis' as const, client, subscriber, prefix });
      const a = await harness.start({ authenticate: userFromQuery, engine: engine('appA:') });
      const b = await harness.start({ authenticate: userFromQuery, engine: engine('appB:') });
      const onA = await harness.connect(`${a.wsUrl}?user=ann`);
      const onB = await harness.connect(`${b.wsUrl}?user=bob`);
      await onA.request('rt:join', { room: 'lobby' });
      await onB.request('rt:join', { room: 'lobby' });
      await b.hub.to('lobby').emit('secret', 'for app B only');
      expect((await onB.next((f) => f.event === 'secret')).data).toBe('for app B only');
      // "prefix keeps apps apart on one instance": app A's member must not get it.
      expect(await onA.collect((f) => f.event === 'secret', 300)).toEqual([]);
    });

    it('a message of the user’s own on their subscriber (another channel) is not taken for the engine’s', async () => {
      const uncaught = recordUncaught(harness);
      const client = new Redis(redis.url, { enableOfflineQueue: false });
      const subscriber = new Redis(redis.url, { enableOfflineQueue: false });
      const publisher = new Redis(redis.url);
      harness.defer(() => {
        client.disconnect();
        subscriber.disconnect();
        publisher.disconnect();
      });
      const app = await harness.start({
        authenticate: userFromQuery,
        engine: { type: 'redis', client, subscriber, shardedPubSub: false },
      });
      const mine: string[] = [];
      subscriber.on('message', (_channel: string, message: string) => mine.push(message));
      await subscriber.subscribe('news');
      await publisher.publish('news', 'headline\nbody');
      await until(() => mine.length === 1);
      const member = await harness.connect(`${app.wsUrl}?user=ann`);
      await member.request('rt:join', { room: 'lobby' });
      await app.hub.to('lobby').emit('still', 'served');
      expect((await member.next((f) => f.event === 'still')).data).toBe('served');
      // The engine parsed "headline" as its JSON header: a SyntaxError thrown out of
      // ioredis's socket handler, an uncaught exception.
      expect(uncaught.map(String)).toEqual([]);
    });

    it('a client’s rt:ack cannot make its node publish to the all-nodes channel', async () => {
      const listener = new Redis(redis.url);
      harness.defer(() => listener.disconnect());
      const app = await harness.start({
        authenticate: userFromQuery,
        engine: { type: 'redis', url: redis.url, prefix: 'acks:', shardedPubSub: false },
      });
      const heard: string[] = [];
      listener.on('message', (_channel: string, message: string) => heard.push(message));
      await listener.subscribe('acks:nodes:');
      const mallory = await harness.connect(`${app.wsUrl}?user=mallory`);
      // An id "<node>.<random>" whose node is "*": the ack would be forwarded to all nodes.
      await mallory.request('rt:ack', { id: '*.forged' });
      await sleep(200);
      expect(heard).toEqual([]);
    });
  },
);
