import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeEngineConformance } from '../../testing/engine-conformance.js';
import {
  redisAvailable,
  redisHasShardedPubSub,
  startRedis,
  type RedisServer,
} from '../../../test/support/redis.js';
import { freePort } from '../../../test/support/processes.js';
import { RedisEngine } from './redis.engine.js';

const until = async (check: () => boolean | Promise<boolean>) => {
  for (let i = 0; i < 400 && !(await check()); i++) await new Promise((r) => setTimeout(r, 5));
  expect(await check()).toBe(true);
};

describe.runIf(redisAvailable())('RedisEngine', () => {
  let redis: RedisServer;
  let tests = 0;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  // Each test gets keys of its own. Sharded pub/sub (the default on Redis 7), and the classic one.
  describeEngineConformance(
    'redis',
    async () => new RedisEngine({ url: redis.url, prefix: `t${++tests}:` }),
    { describe, it, expect, beforeEach, afterEach },
  );
  describeEngineConformance(
    'redis, classic pub/sub',
    async () => new RedisEngine({ url: redis.url, prefix: `t${++tests}:`, shardedPubSub: false }),
    { describe, it, expect, beforeEach, afterEach },
  );
});

describe.runIf(redisAvailable())('RedisEngine connections', () => {
  let redis: RedisServer;
  let probe: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    probe = new Redis(redis.url);
  });
  afterAll(async () => {
    probe.disconnect();
    await redis.stop();
  });

  it.runIf(redisHasShardedPubSub())(
    'subscribes with sharded pub/sub where the server has it (Redis 7), or as it is told',
    async () => {
      const sharded = new RedisEngine({ url: redis.url, prefix: 's:' });
      const classic = new RedisEngine({ url: redis.url, prefix: 'c:', shardedPubSub: false });
      for (const engine of [sharded, classic]) {
        await engine.start('n1', { deliver: () => undefined, control: () => undefined });
        await engine.broker.subscribe('r:x');
      }
      expect(await probe.call('PUBSUB', 'SHARDCHANNELS', '*:ch:*')).toEqual(['s:ch:r:x']);
      expect(await probe.pubsub('CHANNELS', '*:ch:*')).toEqual(['c:ch:r:x']);
      await Promise.all([sharded.close(), classic.close()]);
    },
  );

  it.runIf(redisHasShardedPubSub())(
    'starts when sharded pub/sub is required of Redis 7',
    async () => {
      const engine = new RedisEngine({ url: redis.url, prefix: 'req:', shardedPubSub: true });
      await engine.start('n1', { deliver: () => undefined, control: () => undefined });
      await engine.broker.subscribe('r:z');
      expect(await probe.call('PUBSUB', 'SHARDCHANNELS', 'req:ch:*')).toEqual(['req:ch:r:z']);
      await engine.close();
    },
  );

  it('gives its clients up when it cannot start: none is left reconnecting', async () => {
    const port = await freePort();
    const engine = new RedisEngine({ url: `redis://127.0.0.1:${port}`, prefix: 'gone:' });
    await expect(
      engine.start('n1', { deliver: () => undefined, control: () => undefined }),
    ).rejects.toThrow(
      `the Redis engine could not reach redis://127.0.0.1:${port} (connect ECONNREFUSED`,
    );
    // A Redis that comes up there afterwards hears from no client of the engine.
    const late = await startRedis(port);
    const lateProbe = new Redis(late.url);
    try {
      await new Promise((resolve) => setTimeout(resolve, 2_500)); // past the longest retry delay
      const clients = String(await lateProbe.call('CLIENT', 'LIST'))
        .trim()
        .split('\n');
      expect(clients).toHaveLength(1); // the probe
    } finally {
      lateProbe.disconnect();
      await late.stop();
    }
  });

  it("runs on clients of the user's own, and leaves them open when it closes", async () => {
    const client = new Redis(redis.url, { enableOfflineQueue: false });
    const subscriber = new Redis(redis.url);
    const received: string[] = [];
    const engine = new RedisEngine({ client, subscriber, prefix: 'own:' });
    await engine.start('n1', {
      deliver: (p) => received.push(p.frame.toString()),
      control: () => undefined,
    });
    await engine.broker.subscribe('*');
    expect(engine.available).toBe(true);
    await engine.broker.publish({ channels: ['*'], frame: Buffer.from('mine'), except: [] });
    await until(() => received.length === 1);
    await engine.close();
    expect([client.status, subscriber.status]).toEqual(['ready', 'ready']);
    // The engine took its listeners away: nothing more reaches it.
    await probe.spublish('own:ch:*', '{"c":["*"],"e":[]}\nlate');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(received).toEqual(['mine']);
    client.disconnect();
    subscriber.disconnect();
  });

  it("subscribes on a duplicate of the user's client when given no subscriber, and quits that one", async () => {
    const client = new Redis(redis.url);
    const engine = new RedisEngine({ client, prefix: 'dup:', shardedPubSub: false });
    await engine.start('n1', { deliver: () => undefined, control: () => undefined });
    await engine.broker.subscribe('r:y');
    expect(await probe.pubsub('NUMSUB', 'dup:ch:r:y')).toEqual(['dup:ch:r:y', 1]);
    await engine.close();
    await until(async () => (await probe.pubsub('NUMSUB', 'dup:ch:r:y'))[1] === 0);
    expect(client.status).toBe('ready');
    client.disconnect();
  });
});

const body = (n: number) => Buffer.from(`{"event":"m","data":${n},"room":"room"`);

describe.runIf(redisAvailable())('RedisEngine across nodes', () => {
  let redis: RedisServer;
  let tests = 0;
  const engines: RedisEngine[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());
  afterEach(async () => {
    await Promise.all(engines.splice(0).map((engine) => engine.close()));
  });

  /** Nodes on one Redis and one prefix, each with what it received. */
  async function nodes(count: number) {
    const prefix = `n${++tests}:`;
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const engine = new RedisEngine({ url: redis.url, prefix });
        engines.push(engine);
        const received: string[] = [];
        const orders: string[] = [];
        await engine.start(`node-${i}`, {
          deliver: (p) => received.push(p.frame.toString()),
          control: (order) => orders.push(order.toString()),
        });
        await engine.broker.subscribe('*');
        return { engine, received, orders };
      }),
    );
  }

  it('delivers to the nodes that subscribe, once, however many of its channels they hold', async () => {
    const [a, b, c] = await nodes(3);
    await b!.engine.broker.subscribe('r:x');
    await b!.engine.broker.subscribe('r:y');
    await a!.engine.broker.publish({
      channels: ['r:x', 'r:y'],
      frame: Buffer.from('both'),
      except: [],
    });
    await a!.engine.broker.publish({ channels: ['*'], frame: Buffer.from('all'), except: [] });
    await until(() => b!.received.length === 2 && c!.received.length === 1);
    expect(b!.received).toEqual(['both', 'all']);
    expect(c!.received).toEqual(['all']);
    expect(a!.received).toEqual(['all']);
  });

  it('numbers a room in one order for all nodes, keeps one history, and shares rooms', async () => {
    const [a, b] = await nodes(2);
    await a!.engine.broker.subscribe('r:room');
    const keep = { maxCount: 10, maxAge: 60_000 };
    const positions = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        (n % 2 ? a! : b!).engine.broker.publishToRoom({
          room: 'room',
          channel: 'r:room',
          body: body(n),
          except: [],
          retention: keep,
          now: Date.now(),
        }),
      ),
    );
    expect(positions.map((p) => p.offset).toSorted()).toEqual([1, 2, 3, 4]);
    await until(() => a!.received.length === 4);
    // Delivered in offset order, whichever node published.
    const delivered = a!.received.map((frame) => JSON.parse(frame).offset);
    expect(delivered).toEqual([1, 2, 3, 4]);
    const read = await b!.engine.broker.readRoom(
      'room',
      { epoch: positions[0]!.epoch, offset: 1 },
      10,
      Date.now(),
    );
    expect(read).toMatchObject({ recovered: true, offset: 4 });
    expect(read.messages.map((m) => m.offset)).toEqual([2, 3, 4]);
    await a!.engine.rooms.addMember('room', {
      connectionId: 'a.1',
      userId: 'u',
      nodeId: 'a',
      joinedAt: 1,
    });
    await b!.engine.rooms.addMember('room', {
      connectionId: 'b.1',
      userId: 'u',
      nodeId: 'b',
      joinedAt: 2,
    });
    expect((await b!.engine.rooms.members('room')).map((m) => m.connectionId)).toEqual([
      'a.1',
      'b.1',
    ]);
    expect(await a!.engine.rooms.get('room')).toMatchObject({ size: 2 });
  });

  it('hands an order to the node it names only, and one to all nodes to every node', async () => {
    const [a, b, c] = await nodes(3);
    await a!.engine.controller.send('node-1', Buffer.from('to b'));
    await c!.engine.controller.send(undefined, Buffer.from('to all'));
    await until(() => a!.orders.length === 1 && b!.orders.length === 2 && c!.orders.length === 1);
    expect(b!.orders).toEqual(['to b', 'to all']);
    expect([a!.orders, c!.orders]).toEqual([['to all'], ['to all']]);
    // On channels of their own: no broker subscriber hears them.
    expect([a!.received, b!.received, c!.received]).toEqual([[], [], []]);
  });

  it('gives each expired presence record to exactly one node', async () => {
    const [a, b] = await nodes(2);
    for (const user of ['u1', 'u2', 'u3']) {
      await a!.engine.presence.add(
        { userId: user, connectionId: `${user}.c`, nodeId: 'a', expiresAt: 100 },
        0,
      );
    }
    const [fromA, fromB] = await Promise.all([
      a!.engine.presence.expire(200, 0),
      b!.engine.presence.expire(200, 0),
    ]);
    expect([...fromA, ...fromB].map((r) => r.userId).toSorted()).toEqual(['u1', 'u2', 'u3']);
    expect(await b!.engine.presence.get(['u1'])).toEqual([undefined]);
  });
});
