import { setTimeout as sleep } from 'node:timers/promises';
import {
  burstRounds,
  connect,
  LOCAL_ADDRESSES,
  medianFigures,
  memoryOf,
  MESSAGE_SIZE,
  withPeer,
  type Figures,
} from './measure.js';
import { BENCH_ROOM } from './peers/peer.js';
import { presence } from './presence.scenario.js';
import { startClients, startServer } from './processes.js';
import { startRedis } from './redis.js';
import { scale } from './scale.scenario.js';
import { grpc, type GrpcSizes } from './grpc.scenario.js';
import { publishStream, type PublishStreamSizes } from './grpc-publish.scenario.js';
import { sse, type SseSizes } from './sse.scenario.js';
import { metricsCost, withMetrics } from './metrics-cost.scenario.js';

export type { Figures } from './measure.js';

/** The sizes of one run: full figures, or a few-second smoke run. */
export interface Sizes {
  fanout: { subscribers: number; burst: number; rounds: number; processes: number };
  latency: { subscribers: number; rates: number[]; seconds: number };
  memory: { connections: number; rounds: number };
  connections: { target: number; holdSeconds: number; processes: number };
  storm: { clients: number };
  crossnode: { subscribers: number; burst: number; rounds: number };
  scale: { points: number[]; burst: number; rounds: number; processes: number };
  presence: { points: number[] };
  sse: SseSizes;
  grpc: GrpcSizes;
  publishStream: PublishStreamSizes;
  /** metrics-cost: the fan-out's room and messages, windows of `seconds`, `runs` runs of each peer. */
  metricsCost: { seconds: number; runs: number };
}

export const FULL: Sizes = {
  fanout: { subscribers: 1_000, burst: 200, rounds: 5, processes: 1 },
  latency: { subscribers: 1_000, rates: [20, 200, 400], seconds: 5 },
  memory: { connections: 10_000, rounds: 3 },
  // 19,000: each process here may hold 20,000 descriptors (see RESULTS.md).
  connections: { target: 19_000, holdSeconds: 60, processes: 2 },
  storm: { clients: 5_000 },
  crossnode: { subscribers: 1_000, burst: 200, rounds: 5 },
  scale: { points: [1_000, 5_000, 10_000, 19_000], burst: 20, rounds: 3, processes: 2 },
  presence: { points: [1_000, 5_000] },
  sse: { streams: 1_000, memoryStreams: 5_000, burst: 200, rounds: 5 },
  grpc: { calls: 1_000, burst: 200, rounds: 5, processes: 2 },
  publishStream: { offsets: [5_000, 25_000, 45_000, 65_000] },
  metricsCost: { seconds: 5, runs: 7 },
};

export const SMOKE: Sizes = {
  fanout: { subscribers: 20, burst: 10, rounds: 1, processes: 1 },
  latency: { subscribers: 20, rates: [20], seconds: 1 },
  memory: { connections: 50, rounds: 1 },
  connections: { target: 50, holdSeconds: 1, processes: 1 },
  storm: { clients: 50 },
  crossnode: { subscribers: 20, burst: 10, rounds: 1 },
  scale: { points: [20, 40], burst: 5, rounds: 1, processes: 2 },
  presence: { points: [20] },
  sse: { streams: 20, memoryStreams: 50, burst: 10, rounds: 1 },
  grpc: { calls: 20, burst: 10, rounds: 1, processes: 1 },
  publishStream: { offsets: [500, 1_000] },
  metricsCost: { seconds: 1, runs: 1 },
};

/** 1 room, N subscribers, bursts of 100-byte messages: deliveries/s and server CPU per delivery. */
export function fanout(peer: string, sizes: Sizes): Promise<Figures> {
  const { subscribers, processes } = sizes.fanout;
  return withPeer(peer, processes, async (server, port, clients) => {
    await connect(clients, peer, port, subscribers);
    return burstRounds(server, clients, subscribers, sizes.fanout);
  });
}

/** Publish-to-receive latency at each rate (publishes per second), over every delivery. */
export function latency(peer: string, sizes: Sizes): Promise<Figures> {
  const { subscribers, rates, seconds } = sizes.latency;
  return withPeer(peer, 1, async (server, port, [clients]) => {
    await connect([clients!], peer, port, subscribers);
    const figures: Figures = {};
    for (const rate of rates) {
      await clients!.ask('reset');
      await clients!.ask('latency', { on: true });
      const cpu0 = await clients!.ask<number>('cpu');
      await server.ask('steady', { room: BENCH_ROOM, rate, size: MESSAGE_SIZE });
      await sleep(seconds * 1_000);
      await server.ask('stop');
      await sleep(1_000); // let what is queued arrive
      const cpu1 = await clients!.ask<number>('cpu');
      const summary = await clients!.ask<Figures>('latency', { on: false });
      figures[`p50At${rate}`] = summary.p50!;
      figures[`p99At${rate}`] = summary.p99!;
      figures[`maxAt${rate}`] = summary.max!;
      figures[`clientCpuPercentAt${rate}`] = (cpu1 - cpu0) / ((seconds + 1) * 10_000);
    }
    return figures;
  });
}

/**
 * Server RSS and heap per connection, after GC, with N idle clients in one room:
 * the medians of `rounds` fresh servers (RSS moves by some 10% from one to the next).
 */
export async function memory(peer: string, sizes: Sizes): Promise<Figures> {
  const { connections: count, rounds } = sizes.memory;
  const samples: Figures[] = [];
  for (let round = 0; round < rounds; round++) {
    samples.push(
      await withPeer(peer, 1, async (server, port, clients) => {
        const before = await memoryOf(server);
        await connect(clients, peer, port, count);
        await sleep(500);
        const after = await memoryOf(server);
        return {
          rssBytesPerConnection: (after.rss - before.rss) / count,
          heapBytesPerConnection: (after.heapUsed - before.heapUsed) / count,
          held: after.connections,
        };
      }),
    );
  }
  return medianFigures(samples);
}

/** How many connections one server holds, heartbeat running, for `holdSeconds`; none may drop. */
export function connections(peer: string, sizes: Sizes): Promise<Figures> {
  const { target, holdSeconds, processes } = sizes.connections;
  return withPeer(peer, processes, async (server, port, clients) => {
    const opened = await connect(clients, peer, port, target, {
      concurrency: 500,
      localAddresses: LOCAL_ADDRESSES,
    });
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
export function storm(peer: string, sizes: Sizes): Promise<Figures> {
  const { clients: count } = sizes.storm;
  return withPeer(peer, 1, async (_server, port, clients) => {
    const [result] = await connect(clients, peer, port, count, { concurrency: count });
    return { msUntilAllJoined: result!.ms, joined: result!.open };
  });
}

/**
 * Two nodes on one Redis: 1 room with N subscribers on node B, bursts published on
 * node A; deliveries/s at the clients.
 */
export async function crossnode(peer: string, sizes: Sizes): Promise<Figures> {
  const { subscribers } = sizes.crossnode;
  const redis = await startRedis();
  const env = { BENCH_REDIS_URL: redis.url };
  const a = await startServer(peer, env);
  const b = await startServer(peer, env);
  const clients = startClients();
  try {
    await connect([clients], peer, b.port, subscribers);
    await sleep(200); // node B's subscription to the room has reached Redis
    return await burstRounds(a.server, [clients], subscribers, sizes.crossnode, b.server);
  } finally {
    await clients.stop();
    await Promise.all([a.server.stop(), b.server.stop()]);
    await redis.stop();
  }
}

/** A scenario, and the peers it runs: ours (plain frames) first. */
export interface Scenario {
  readonly peers: readonly string[];
  run(peer: string, sizes: Sizes): Promise<Figures>;
  /**
   * Runs of each peer, interleaved (run.ts takes the peers in turn, reversed every
   * other time); each figure is the median of a peer's runs. Default 1.
   */
  runs?(sizes: Sizes): number;
}

const WEBSOCKET = ['nest-realtime', 'ws-coalesced', 'ws', 'socketio'] as const;
/** The same, and the batched mode: a row of its own, compared with no peer. */
const DELIVERING = [...WEBSOCKET, 'nest-realtime-batched'] as const;

export const SCENARIOS = {
  fanout: { peers: DELIVERING, run: fanout },
  latency: { peers: DELIVERING, run: latency },
  memory: { peers: WEBSOCKET, run: memory },
  connections: { peers: WEBSOCKET, run: connections },
  storm: { peers: WEBSOCKET, run: storm },
  // Raw ws has no nodes to join: it sits out.
  crossnode: { peers: ['nest-realtime', 'socketio', 'nest-realtime-batched'], run: crossnode },
  scale: { peers: WEBSOCKET, run: (peer, sizes) => scale(peer, sizes.scale) },
  // Only nest-realtime follows a room's members.
  presence: { peers: ['nest-realtime'], run: (peer, sizes) => presence(peer, sizes.presence) },
  // nest-realtime's SSE endpoint against a plain Nest `@Sse()` controller.
  sse: { peers: ['nest-realtime', 'nest-sse'], run: (peer, sizes) => sse(peer, sizes.sse) },
  // nest-realtime's Subscribe against a minimal grpc-js server of the same proto, and
  // the same encoding each message once for all its calls.
  grpc: {
    peers: ['nest-realtime', 'grpc-js', 'grpc-js-encoded'],
    run: (peer, sizes) => grpc(peer, sizes.grpc),
  },
  // One long PublishStream: the heap it keeps per message, against a grpc-js server
  // that counts its messages as they come.
  'grpc-publish-stream-heap': {
    peers: ['nest-realtime', 'grpc-js'],
    run: (peer, sizes) => publishStream(peer, sizes.publishStream),
  },
  // The fan-out with metrics off and on (Prometheus, scraped once a second), in both
  // modes: each `+metrics` row is compared with its twin.
  'metrics-cost': {
    peers: [
      'nest-realtime',
      withMetrics('nest-realtime'),
      'nest-realtime-batched',
      withMetrics('nest-realtime-batched'),
    ],
    run: (peer, sizes) => metricsCost(peer, { ...sizes.fanout, ...sizes.metricsCost }),
    runs: (sizes) => sizes.metricsCost.runs,
  },
} satisfies Record<string, Scenario>;
export type ScenarioName = keyof typeof SCENARIOS;
