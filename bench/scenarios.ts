import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startClients, startServer, type Child } from './processes.js';
import { startRedis } from './redis.js';

/** The sizes of one run: full figures, or a few-second smoke run. */
export interface Sizes {
  fanout: { subscribers: number; burst: number; rounds: number };
  latency: { subscribers: number; rates: number[]; seconds: number };
  memory: { connections: number };
  connections: { target: number; holdSeconds: number; processes: number };
  storm: { clients: number };
  crossnode: { subscribers: number; burst: number; rounds: number };
}

export const FULL: Sizes = {
  fanout: { subscribers: 1_000, burst: 200, rounds: 5 },
  latency: { subscribers: 1_000, rates: [20, 400], seconds: 5 },
  memory: { connections: 10_000 },
  // 19,000: each process here may hold 20,000 descriptors (see RESULTS.md).
  connections: { target: 19_000, holdSeconds: 60, processes: 2 },
  storm: { clients: 5_000 },
  crossnode: { subscribers: 1_000, burst: 200, rounds: 5 },
};

export const SMOKE: Sizes = {
  fanout: { subscribers: 20, burst: 10, rounds: 1 },
  latency: { subscribers: 20, rates: [20], seconds: 1 },
  memory: { connections: 50 },
  connections: { target: 50, holdSeconds: 1, processes: 1 },
  storm: { clients: 50 },
  crossnode: { subscribers: 20, burst: 10, rounds: 1 },
};

const ROOM = 'bench';
const SIZE = 100;

/** Figures of one scenario for one peer. */
export type Figures = Record<string, number>;

async function withPeer<T>(
  peer: string,
  processes: number,
  run: (server: Child, port: number, clients: Child[]) => Promise<T>,
): Promise<T> {
  const { server, port } = await startServer(peer);
  const clients = Array.from({ length: processes }, startClients);
  try {
    return await run(server, port, clients);
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await server.stop();
  }
}

function connect(
  clients: Child[],
  peer: string,
  port: number,
  count: number,
  concurrency = 200,
  localAddresses?: string[],
) {
  const share = Math.ceil(count / clients.length);
  return Promise.all(
    clients.map((client, i) =>
      client.ask<{ ms: number; open: number }>('connect', {
        peer,
        port,
        room: ROOM,
        count: Math.min(share, count - i * share),
        concurrency,
        localAddresses,
      }),
    ),
  );
}

const median = (values: number[]) =>
  values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** 1 room, N subscribers, bursts of 100-byte messages: deliveries/s and server CPU per delivery. */
export async function fanout(peer: string, sizes: Sizes): Promise<Figures> {
  const { subscribers, burst, rounds } = sizes.fanout;
  return withPeer(peer, 1, async (server, port, [clients]) => {
    await connect([clients!], peer, port, subscribers);
    const perSecond: number[] = [];
    const cpuPerDelivery: number[] = [];
    for (let round = -1; round < rounds; round++) {
      await clients!.ask('reset');
      const cpu0 = await server.ask<number>('cpu');
      const started = performance.timeOrigin + performance.now();
      const done = clients!.ask<{ at: number }>('expect', { total: subscribers * burst });
      await server.ask('burst', { room: ROOM, count: burst, size: SIZE });
      const { at } = await done;
      const cpu1 = await server.ask<number>('cpu');
      if (round < 0) continue; // the first round warms up
      perSecond.push((subscribers * burst) / ((at - started) / 1_000));
      cpuPerDelivery.push((cpu1 - cpu0) / (subscribers * burst));
    }
    return { deliveriesPerSecond: median(perSecond), cpuMicrosPerDelivery: median(cpuPerDelivery) };
  });
}

/** Publish-to-receive latency at each rate (publishes per second), over every delivery. */
export async function latency(peer: string, sizes: Sizes): Promise<Figures> {
  const { subscribers, rates, seconds } = sizes.latency;
  return withPeer(peer, 1, async (server, port, [clients]) => {
    await connect([clients!], peer, port, subscribers);
    const figures: Figures = {};
    for (const rate of rates) {
      await clients!.ask('reset');
      await clients!.ask('latency', { on: true });
      await server.ask('steady', { room: ROOM, rate, size: SIZE });
      await sleep(seconds * 1_000);
      await server.ask('stop');
      await sleep(1_000); // let what is queued arrive
      const summary = await clients!.ask<Figures>('latency', { on: false });
      figures[`p50At${rate}`] = summary.p50!;
      figures[`p99At${rate}`] = summary.p99!;
      figures[`maxAt${rate}`] = summary.max!;
    }
    return figures;
  });
}

/** Server RSS and heap per connection, after GC, with N idle clients in one room. */
export async function memory(peer: string, sizes: Sizes): Promise<Figures> {
  const { connections: count } = sizes.memory;
  return withPeer(peer, 1, async (server, port, clients) => {
    const before = await server.ask<{ rss: number; heapUsed: number }>('memory');
    await connect(clients, peer, port, count);
    await sleep(500);
    const after = await server.ask<{ rss: number; heapUsed: number; connections: number }>(
      'memory',
    );
    return {
      rssBytesPerConnection: (after.rss - before.rss) / count,
      heapBytesPerConnection: (after.heapUsed - before.heapUsed) / count,
      held: after.connections,
    };
  });
}

/** How many connections one server holds, heartbeat running, for `holdSeconds`; none may drop. */
export async function connections(peer: string, sizes: Sizes): Promise<Figures> {
  const { target, holdSeconds, processes } = sizes.connections;
  const sources = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
  return withPeer(peer, processes, async (server, port, clients) => {
    const opened = await connect(clients, peer, port, target, 500, sources);
    const open = opened.reduce((sum, r) => sum + r.open, 0);
    await sleep(holdSeconds * 1_000);
    const status = await Promise.all(
      clients.map((c) => c.ask<{ open: number; dropped: number }>('status')),
    );
    const held = await server.ask<number>('connections');
    return {
      opened: open,
      heldAtEnd: held,
      dropped: status.reduce((sum, s) => sum + s.dropped, 0),
      holdSeconds,
    };
  });
}

/** N clients connecting at once: time until all have joined the room. */
export async function storm(peer: string, sizes: Sizes): Promise<Figures> {
  const { clients: count } = sizes.storm;
  return withPeer(peer, 1, async (_server, port, clients) => {
    const [result] = await connect(clients, peer, port, count, count);
    return { msUntilAllJoined: result!.ms, joined: result!.open };
  });
}

/**
 * Two nodes on one Redis: 1 room with N subscribers on node B, bursts published on
 * node A; deliveries/s at the clients. Raw `ws` has no nodes to join: it sits out.
 */
export async function crossnode(peer: string, sizes: Sizes): Promise<Figures> {
  if (peer === 'ws') return {};
  const { subscribers, burst, rounds } = sizes.crossnode;
  const redis = await startRedis();
  const env = { BENCH_REDIS_URL: redis.url };
  const a = await startServer(peer, env);
  const b = await startServer(peer, env);
  const clients = startClients();
  try {
    await connect([clients], peer, b.port, subscribers);
    await sleep(200); // node B's subscription to the room has reached Redis
    const perSecond: number[] = [];
    for (let round = -1; round < rounds; round++) {
      await clients.ask('reset');
      const started = performance.timeOrigin + performance.now();
      const done = clients.ask<{ at: number }>('expect', { total: subscribers * burst });
      await a.server.ask('burst', { room: ROOM, count: burst, size: SIZE });
      const { at } = await done;
      if (round < 0) continue; // the first round warms up
      perSecond.push((subscribers * burst) / ((at - started) / 1_000));
    }
    return { deliveriesPerSecond: median(perSecond) };
  } finally {
    await clients.stop();
    await Promise.all([a.server.stop(), b.server.stop()]);
    await redis.stop();
  }
}

export const SCENARIOS = { fanout, latency, memory, connections, storm, crossnode } as const;
export type ScenarioName = keyof typeof SCENARIOS;
