import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { startClients, startServer, type Child } from './processes.js';

/** The sizes of the SSE scenario. */
export interface SseSizes {
  /** Streams of the fan-out, in one room. */
  streams: number;
  /** Idle streams of the memory figure. */
  memoryStreams: number;
  /** Messages of one burst. */
  burst: number;
  /** Measured rounds (after one that warms up); the figures are their median. */
  rounds: number;
}

export const SSE_FULL: SseSizes = { streams: 1_000, memoryStreams: 5_000, burst: 200, rounds: 5 };
export const SSE_SMOKE: SseSizes = { streams: 20, memoryStreams: 50, burst: 10, rounds: 1 };

/** The peers that serve SSE: nest-realtime's endpoint, and a plain Nest `@Sse()` controller. */
export const SSE_PEERS = ['nest-realtime', 'nest-sse'] as const;

const ROOM = 'bench';
const SIZE = 100;
/** Load-client processes: their streams split evenly between them. */
const CLIENT_PROCESSES = 2;
/** A burst whose deliveries have not all arrived by then fails the scenario. */
const BURST_TIMEOUT = 60_000;

// Tiny twins of scenarios.ts's private helpers (median, and connect for SSE clients).
const median = (values: number[]) =>
  values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Opens `count` streams of the room, split over `clients`; the streams each opened. */
async function connect(clients: Child[], peer: string, port: number, count: number) {
  const share = Math.ceil(count / clients.length);
  const opened = await Promise.all(
    clients.map((client, i) =>
      client.ask<{ ms: number; open: number }>('connect', {
        peer,
        port,
        room: ROOM,
        count: Math.max(0, Math.min(share, count - i * share)),
        concurrency: 200,
      }),
    ),
  );
  const open = opened.map((r) => r.open);
  const total = open.reduce((sum, n) => sum + n, 0);
  if (total !== count) throw new Error(`${peer}: ${total} of ${count} SSE streams opened`);
  return open;
}

async function withPeer<T>(
  peer: string,
  run: (server: Child, port: number, clients: Child[]) => Promise<T>,
): Promise<T> {
  const { server, port } = await startServer(peer);
  const clients = Array.from({ length: CLIENT_PROCESSES }, () => startClients('sse-clients.js'));
  try {
    return await run(server, port, clients);
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await server.stop();
  }
}

/** Resolves with `promise`, or rejects with `message` after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, message: () => Promise<string>) {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => void message().then((text) => reject(new Error(text)), reject), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** 1 room, N streams, bursts of 100-byte messages: deliveries/s, server CPU per delivery, client CPU. */
async function fanout(peer: string, sizes: SseSizes): Promise<Record<string, number>> {
  const { streams, burst, rounds } = sizes;
  return withPeer(peer, async (server, port, clients) => {
    const open = await connect(clients, peer, port, streams);
    const perSecond: number[] = [];
    const cpuPerDelivery: number[] = [];
    let clientCpu0: number[] = [];
    let measuredFrom = 0;
    for (let round = -1; round < rounds; round++) {
      if (round === 0) {
        // The first round warmed up: client CPU counts from here.
        clientCpu0 = await Promise.all(clients.map((c) => c.ask<number>('cpu')));
        measuredFrom = performance.now();
      }
      await Promise.all(clients.map((c) => c.ask('reset')));
      const cpu0 = await server.ask<number>('cpu');
      const started = performance.timeOrigin + performance.now();
      const done = Promise.all(
        clients.map((c, i) => c.ask<{ at: number }>('expect', { total: open[i]! * burst })),
      );
      await server.ask('burst', { room: ROOM, count: burst, size: SIZE });
      const arrived = await within(done, BURST_TIMEOUT, async () => {
        const status = await Promise.all(
          clients.map((c) => c.ask<{ open: number; dropped: number }>('status')),
        );
        return `${peer}: a burst's ${streams * burst} deliveries did not all arrive within ${BURST_TIMEOUT} ms (client streams: ${JSON.stringify(status)})`;
      });
      const at = Math.max(...arrived.map((a) => a.at));
      const cpu1 = await server.ask<number>('cpu');
      if (round < 0) continue;
      perSecond.push((streams * burst) / ((at - started) / 1_000));
      cpuPerDelivery.push((cpu1 - cpu0) / (streams * burst));
    }
    const wallMicros = (performance.now() - measuredFrom) * 1_000;
    const clientCpu1 = await Promise.all(clients.map((c) => c.ask<number>('cpu')));
    const clientPercent = clientCpu1.map((cpu, i) => ((cpu - clientCpu0[i]!) / wallMicros) * 100);
    return {
      deliveriesPerSecond: median(perSecond),
      cpuMicrosPerDelivery: median(cpuPerDelivery),
      clientCpuPercent: Math.max(...clientPercent),
    };
  });
}

/** Server RSS and heap per stream, after GC, with N idle streams in one room. */
async function memory(peer: string, sizes: SseSizes): Promise<Record<string, number>> {
  const { memoryStreams: count } = sizes;
  return withPeer(peer, async (server, port, clients) => {
    const before = await server.ask<{ rss: number; heapUsed: number }>('memory');
    await connect(clients, peer, port, count);
    await sleep(500);
    const after = await server.ask<{ rss: number; heapUsed: number; connections: number }>(
      'memory',
    );
    if (after.connections !== count) {
      throw new Error(`${peer}: the server holds ${after.connections} of ${count} SSE streams`);
    }
    return {
      rssBytesPerStream: (after.rss - before.rss) / count,
      heapBytesPerStream: (after.heapUsed - before.heapUsed) / count,
    };
  });
}

/**
 * SSE fan-out and memory, for nest-realtime's endpoint (`GET /realtime/events`,
 * authenticated users) and a plain Nest `@Sse()` controller streaming a `Subject`
 * (peers/nest-sse.peer.ts): each stream is a user of its own, on a socket of its own.
 */
export async function sse(peer: string, sizes: SseSizes): Promise<Record<string, number>> {
  if (!(SSE_PEERS as readonly string[]).includes(peer)) {
    throw new Error(`the sse scenario runs ${SSE_PEERS.join(' and ')}, not "${peer}"`);
  }
  return { ...(await fanout(peer, sizes)), ...(await memory(peer, sizes)) };
}
