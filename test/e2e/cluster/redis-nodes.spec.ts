// Two app nodes on one real redis-server: messages, presence and recovery cross
// them, and a client that loses its node recovers on the other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../../lib/client/index.js';
import { DeliveryService, RpcService, type RealtimeModuleOptions } from '../../../lib/index.js';
import { startApp, trackSockets, type TestApp } from '../../support/app.js';
import { reconnected } from '../../support/client.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { redisAvailable, startRedis, type RedisServer } from '../../support/redis.js';

describe.runIf(redisAvailable())('two nodes on one Redis', () => {
  let redis: RedisServer;
  let tests = 0;
  const harness = withHarness();
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  async function nodes(): Promise<[TestApp, TestApp]> {
    const options: RealtimeModuleOptions = {
      authenticate: userFromQuery,
      engine: { type: 'redis', url: redis.url, prefix: `e2e${++tests}:` },
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
