// Three app nodes, each a process of its own, on one real redis-server: clients
// spread over them share rooms, users and presence; a node killed with SIGKILL takes
// its users offline everywhere within the presence timeout, and its clients recover
// every message on the other nodes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../lib/client/index.js';
import { reconnected } from '../support/client.js';
import { until } from '../support/fixtures.js';
import { freePort, startServerProcess, type ServerProcess } from '../support/processes.js';
import { redisAvailable, startRedis, type RedisServer } from '../support/redis.js';

describe.runIf(redisAvailable())('a cluster of 3 node processes on one Redis', () => {
  let redis: RedisServer;
  const ports: number[] = [];
  const nodes: ServerProcess[] = [];
  const clients: RealtimeClient<any>[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const prefix = `scale${process.pid}:`;
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      ports.push(port);
      nodes.push(
        await startServerProcess('cluster-node', {
          PORT: String(port),
          REDIS_URL: redis.url,
          PREFIX: prefix,
        }),
      );
    }
  }, 30_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await Promise.all(nodes.map((node) => node.kill('SIGTERM')));
    await redis?.stop();
  });

  /** A client of whichever node `url()` says (it is asked again at each reconnect). */
  function connect(url: () => string): RealtimeClient<any> {
    const client = new RealtimeClient(url, {
      WebSocket,
      reconnect: { initialDelay: 20, maxDelay: 100 },
    });
    clients.push(client);
    return client;
  }
  const on = (i: number, user: string) => () => `ws://127.0.0.1:${ports[i]}/ws?user=${user}`;

  it('delivers every message of a room, once and in order, to members on every node', async () => {
    const members = [0, 1, 2].map((i) => connect(on(i, `m${i}`)));
    const seen: number[][] = [[], [], []];
    for (const [i, member] of members.entries()) {
      const room = await member.join('all');
      room.on('n', (n: number) => seen[i]!.push(n));
    }
    const publisher = connect(on(1, 'pub'));
    await publisher.join('all');
    for (let n = 1; n <= 300; n++) await publisher.publish('all', 'n', n);
    await until(() => seen.every((list) => list.length === 300), 10_000);
    for (const list of seen) expect(list).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  });

  it('reaches a user on every node, and shows the presence of users of all nodes', async () => {
    const tabs = [0, 1, 2].map((i) => connect(on(i, 'dora')));
    const notices: unknown[][] = [[], [], []];
    for (const [i, tab] of tabs.entries()) tab.on('notice', (data) => notices[i]!.push(data));
    await Promise.all(tabs.map((tab) => tab.ready));
    const sender = connect(on(2, 'eve'));
    await sender.ready;
    await sender.request('notify', { user: 'dora', text: 'hello' });
    await until(() => notices.every((list) => list.length === 1), 5_000);
    expect((await sender.statuses(['dora']))[0]).toMatchObject({ status: 'online' });
  });

  it('takes the users of a killed node offline everywhere, and its clients recover elsewhere', async () => {
    // frank lives on node 0 only; grace watches him from node 2.
    const frank = connect(on(0, 'frank'));
    await frank.ready;
    const grace = connect(on(2, 'grace'));
    const changes: string[] = [];
    grace.onPresence((state) => state.userId === 'frank' && changes.push(state.status));
    await grace.watch(['frank']);

    // henry reads a room from node 0; when it dies, his client goes to node 1.
    let henryNode = 0;
    const henry = connect(() => on(henryNode, 'henry')());
    const feed = await henry.join('feed', { recover: true });
    const seen: number[] = [];
    feed.on('n', (n: number) => seen.push(n));
    const publisher = connect(on(2, 'ivan'));
    await publisher.join('feed');
    let published = 0;
    // One at a time, in order: each waits for the previous one's answer.
    let publishing = Promise.resolve();
    const timer = setInterval(() => {
      publishing = publishing.then(() =>
        publisher.publish('feed', 'n', ++published).then(() => undefined),
      );
    }, 5);
    await until(() => seen.length >= 30, 5_000);

    henryNode = 1;
    const back = reconnected(henry);
    const killedAt = Date.now();
    await nodes[0]!.kill('SIGKILL');
    await back;
    await until(() => changes.includes('offline'), 5_000);
    const offlineAfter = Date.now() - killedAt;
    await until(() => published > seen.length || seen.length >= 100, 5_000);
    clearInterval(timer);
    await publishing;
    await until(() => seen.length === published, 5_000);
    expect(seen).toEqual(Array.from({ length: published }, (_, i) => i + 1));
    // In these nodes: presence.timeout 1.5 s, offlineDelay 0.2 s, a sweep every 0.25 s:
    // offline by timeout + offlineDelay + two sweeps (2.2 s), plus a margin for a busy machine.
    console.log(`frank offline everywhere ${offlineAfter} ms after SIGKILL of his node`);
    expect(offlineAfter).toBeLessThan(3_000);
  }, 20_000);
});

describe.runIf(redisAvailable())('a Redis restart under a cluster of 3 node processes', () => {
  it('ends with every message delivered, in order and once, or reported (refused, or resync)', async () => {
    const redis = await startRedis();
    const ports: number[] = [];
    const nodes: ServerProcess[] = [];
    const clients: RealtimeClient<any>[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const port = await freePort();
        ports.push(port);
        const env = { PORT: String(port), REDIS_URL: redis.url, PREFIX: 'restart:' };
        nodes.push(await startServerProcess('cluster-node', env));
      }
      const connect = (i: number, user: string) => {
        const client = new RealtimeClient(`ws://127.0.0.1:${ports[i]}/ws?user=${user}`, {
          WebSocket,
          reconnect: { initialDelay: 20, maxDelay: 200 },
        });
        clients.push(client);
        return client;
      };
      const readers = [1, 2].map((i) => connect(i, `reader${i}`));
      const seen: number[][] = [[], []];
      const resyncs = [0, 0];
      for (const [i, reader] of readers.entries()) {
        const feed = await reader.join('feed', { recover: true });
        feed.on('n', (n: number) => seen[i]!.push(n));
        feed.onResync(() => resyncs[i]!++);
      }
      const publisher = connect(0, 'writer');
      await publisher.join('feed');
      const accepted: number[] = [];
      const refused: number[] = [];
      let n = 0;
      let restarted = false;
      const publishing = (async () => {
        while (n < 400) {
          const value = ++n;
          try {
            await publisher.publish('feed', 'n', value, { echo: false });
            accepted.push(value);
          } catch {
            refused.push(value); // reported to its publisher
            await new Promise((resolve) => setTimeout(resolve, 10));
          }
          if (value === 150 && !restarted) {
            restarted = true;
            const port = redis.port;
            await redis.stop('SIGKILL');
            void startRedis(port).then((again) => Object.assign(redis, again));
          }
        }
      })();
      await publishing;
      await until(
        () => seen.every((list) => accepted.filter((a) => a > 300).every((a) => list.includes(a))),
        15_000,
      );
      for (const [i, list] of seen.entries()) {
        // In order and once; nothing that was not accepted.
        expect(list).toEqual([...new Set(list)].toSorted((a, b) => a - b));
        expect(list.every((value) => accepted.includes(value))).toBe(true);
        // What was accepted but not seen is covered by a resync (reported to the reader).
        const missing = accepted.filter((value) => !list.includes(value));
        expect(missing.length === 0 || resyncs[i]! > 0).toBe(true);
        console.log(
          `reader ${i + 1}: ${list.length} delivered, ${missing.length} accepted but lost with the ` +
            `history and reported by ${resyncs[i]} resync(s); ${refused.length} refused to the publisher`,
        );
      }
      expect(refused.length + accepted.length).toBe(400);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
      await Promise.all(nodes.map((node) => node.kill('SIGTERM')));
      await redis.stop();
    }
  }, 60_000);
});
