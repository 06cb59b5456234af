// Two app nodes on one real redis-server: messages, presence and recovery cross
// them, and a client that loses its node recovers on the other.
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../../lib/client/index.js';
import { DeliveryService, RpcService, type RealtimeModuleOptions } from '../../../lib/index.js';
import { startApp, trackSockets, type TestApp } from '../../support/app.js';
import { reconnected } from '../../support/client.js';
import { recordUncaught, until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { redisAvailable, redisForSuite } from '../../support/redis.js';

describe.runIf(redisAvailable())('two nodes on one Redis', () => {
  const suiteRedis = redisForSuite();
  let tests = 0;
  const harness = withHarness();

  async function nodes(): Promise<[TestApp, TestApp]> {
    const options: RealtimeModuleOptions = {
      authenticate: userFromQuery,
      engine: { type: 'redis', url: suiteRedis().url, prefix: `e2e${++tests}:` },
      history: { maxCount: 10_000 },
      presence: { offlineDelay: 50 },
    };
    const a = await startApp(options);
    const b = await startApp(options);
    harness.track(a);
    harness.track(b);
    return [a, b];
  }

  it('delivers room messages from one node to the members of the other, and shows presence of both', async () => {
    const [a, b] = await nodes();
    const alice = new RealtimeClient(`${a.wsUrl}?user=alice`, { WebSocket });
    const bob = new RealtimeClient(`${b.wsUrl}?user=bob`, { WebSocket });
    harness.defer(() => alice.close());
    harness.defer(() => bob.close());
    const room = await alice.join('lobby', { presence: true });
    await bob.join('lobby');
    const heard: unknown[] = [];
    room.on('chat', (data) => heard.push(data));
    await bob.publish('lobby', 'chat', 'across nodes');
    await until(() => heard.length === 1);
    expect(heard).toEqual(['across nodes']);
    await until(() => room.members.has('bob'));
    expect((await alice.statuses(['bob']))[0]).toMatchObject({ status: 'online' });
    expect(await a.hub.roomInfo('lobby')).toMatchObject({ size: 2 });
  });

  it('a client whose node goes reconnects to the other and recovers every missed message, once, in order', async () => {
    const [a, b] = await nodes();
    const sockets = trackSockets(a);
    let target = a;
    const client = new RealtimeClient(() => `${target.wsUrl}?user=carol`, {
      WebSocket,
      reconnect: { initialDelay: 20, maxDelay: 50 },
    });
    harness.defer(() => client.close());
    const feed = await client.join('feed', { recover: true });
    const seen: number[] = [];
    feed.on('n', (n: number) => seen.push(n));
    const resyncs: unknown[] = [];
    feed.onResync((info) => resyncs.push(info));
    let published = 0;
    const publisher = setInterval(() => void b.hub.to('feed').emit('n', ++published), 2);
    harness.defer(() => clearInterval(publisher));
    await until(() => seen.length >= 50, 5_000);

    target = b; // the next attempt goes to the other node
    const back = reconnected(client);
    for (const socket of sockets) socket.destroy(); // node a loses its clients
    await back;
    await until(() => seen.length >= published - 5 && published > 150, 5_000);
    clearInterval(publisher);
    await until(() => seen.length === published, 5_000);
    expect(seen).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    expect(resyncs).toEqual([]);
    expect(b.hub.connections.count()).toBe(1);
  });

  it("reaches another node's connection by id: join, call, and acknowledged delivery to its user", async () => {
    const [a, b] = await nodes();
    const dana = new RealtimeClient(`${a.wsUrl}?user=dana`, { WebSocket });
    harness.defer(() => dana.close());
    dana.answer('sum', (params) => (params as number[]).reduce((x, y) => x + y, 0));
    const notes: unknown[] = [];
    dana.on('note', (data) => notes.push(data));
    const { connectionId } = await dana.ready;
    await b.hub.join(connectionId, 'ops');
    expect(await a.hub.roomMembers('ops')).toMatchObject([{ connectionId }]);
    await expect(b.app.get(RpcService).call(connectionId, 'sum', [1, 2, 3])).resolves.toBe(6);
    await b.app.get(DeliveryService).send({ userId: 'dana' }, 'note', 'acked across nodes');
    await until(() => notes.length === 1);
    expect(await b.hub.leave(connectionId, 'ops')).toBe(true);
    expect(await a.hub.roomMembers('ops')).toEqual([]);
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('regressions', () => {
  describe.runIf(redisAvailable())(
    'Redis engine: clients of the user’s own, and node channels',
    () => {
      const redis = redisForSuite();
      const harness = withHarness();

      it('two apps with their own prefixes on one pair of the user’s clients do not get each other’s room messages', async () => {
        const client = new Redis(redis().url, { enableOfflineQueue: false });
        const subscriber = new Redis(redis().url, { enableOfflineQueue: false });
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
        const client = new Redis(redis().url, { enableOfflineQueue: false });
        const subscriber = new Redis(redis().url, { enableOfflineQueue: false });
        const publisher = new Redis(redis().url);
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
        const listener = new Redis(redis().url);
        harness.defer(() => listener.disconnect());
        const app = await harness.start({
          authenticate: userFromQuery,
          engine: { type: 'redis', url: redis().url, prefix: 'acks:', shardedPubSub: false },
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
});
