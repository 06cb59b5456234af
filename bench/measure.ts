import { performance } from 'node:perf_hooks';
import { BENCH_ROOM } from './peers/peer.js';
import { startClients, startServer, type Child } from './processes.js';

/** Figures of one scenario for one peer. */
export type Figures = Record<string, number>;

/**
 * Source addresses to spread many clients over: one address has some 28,000
 * ephemeral ports, fewer once earlier scenarios' sockets linger in TIME_WAIT.
 */
export const LOCAL_ADDRESSES = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];

/** About how many bytes of JSON each bench message is. */
export const MESSAGE_SIZE = 100;

export const median = (values: number[]) =>
  values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Each figure's median over `samples` (runs of one peer), over the samples that have it.
 *
 * @example
 * ```ts
 * medianFigures([{ a: 1 }, { a: 3, b: 2 }, { a: 2 }]); // { a: 2, b: 2 }
 * ```
 */
export function medianFigures(samples: Figures[]): Figures {
  const keys = [...new Set(samples.flatMap((sample) => Object.keys(sample)))];
  return Object.fromEntries(
    keys.map((key) => [
      key,
      median(samples.flatMap((sample) => (key in sample ? [sample[key]!] : []))),
    ]),
  );
}

/**
 * Runs `run` with the peer's server and `processes` processes of load clients
 * (`script`, the WebSocket clients unless another is named), stopping them all after.
 */
export async function withPeer<T>(
  peer: string,
  processes: number,
  run: (server: Child, port: number, clients: Child[]) => Promise<T>,
  options: { script?: string; env?: Record<string, string> } = {},
): Promise<T> {
  const { server, port } = await startServer(peer, options.env);
  const clients = Array.from({ length: processes }, () => startClients(options.script));
  try {
    return await run(server, port, clients);
  } finally {
    await Promise.all(clients.map((c) => c.stop()));
    await server.stop();
  }
}

/**
 * Opens `count` clients of `peer`, shared out over the client processes, all in
 * the bench room; fails unless every one opened.
 */
export async function connect(
  clients: Child[],
  peer: string,
  port: number,
  count: number,
  options: { concurrency?: number; localAddresses?: string[] } = {},
) {
  const share = Math.ceil(count / clients.length);
  const opened = await Promise.all(
    clients.map((client, i) =>
      client.ask<{ ms: number; open: number }>('connect', {
        peer,
        port,
        room: BENCH_ROOM,
        count: Math.max(0, Math.min(share, count - i * share)),
        concurrency: options.concurrency ?? 200,
        localAddresses: options.localAddresses,
      }),
    ),
  );
  const open = opened.reduce((sum, r) => sum + r.open, 0);
  const wanted = held.get(clients[0]!) ?? 0;
  held.set(clients[0]!, wanted + count);
  if (open !== wanted + count)
    throw new Error(`${peer}: ${open} of ${wanted + count} clients open`);
  return opened;
}

/** Clients opened so far through each set of client processes (known by its first). */
const held = new WeakMap<Child, number>();

/** A burst whose deliveries have not all arrived by then fails the scenario. */
const BURST_TIMEOUT = 60_000;

/** Resolves with `promise`, or rejects with `message()` after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, message: () => Promise<string>) {
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

/**
 * CPU time, in microseconds, of each process.
 *
 * @example
 * ```ts
 * const [serverCpu, ...clientCpu] = await cpuOf([server, ...clients]);
 * ```
 */
export const cpuOf = (children: Child[]) => Promise.all(children.map((c) => c.ask<number>('cpu')));

/**
 * One burst of `burst` messages published by `publisher` and received by `receivers`
 * clients over the client processes: when it started and when its last message
 * reached the last client (ms since the epoch). It fails if they do not all arrive.
 *
 * @example
 * ```ts
 * const { started, at } = await burstOnce(server, clients, 1_000, 200);
 * const deliveriesPerSecond = (1_000 * 200) / ((at - started) / 1_000);
 * ```
 */
export async function burstOnce(
  publisher: Child,
  clients: Child[],
  receivers: number,
  burst: number,
): Promise<{ started: number; at: number }> {
  const total = receivers * burst;
  await Promise.all(clients.map((c) => c.ask('reset')));
  const started = performance.timeOrigin + performance.now();
  const done = Promise.all(
    clients.map((c, i) =>
      c.ask<{ at: number }>('expect', { total: shareOf(total, clients.length, i, burst) }),
    ),
  );
  await publisher.ask('burst', { room: BENCH_ROOM, count: burst, size: MESSAGE_SIZE });
  const arrived = await within(done, BURST_TIMEOUT, async () => {
    const status = await Promise.all(clients.map((c) => c.ask('status')));
    return `a burst's ${total} deliveries did not all arrive within ${BURST_TIMEOUT} ms (clients: ${JSON.stringify(status)})`;
  });
  return { started, at: Math.max(...arrived.map((d) => d.at)) };
}

/**
 * Bursts of `burst` messages published by `publisher` (the server, or another node)
 * and received by `receivers` clients over the client processes: a warm-up round,
 * then the medians of `rounds`. Deliveries/s is counted at the clients, from the
 * burst's start to the last message at the last client. `clientCpuPercent` is the
 * busiest client process's CPU over the measured rounds, as percent of one core:
 * near 100, the clients are the limit and the figure a lower bound.
 */
export async function burstRounds(
  publisher: Child,
  clients: Child[],
  receivers: number,
  { burst, rounds }: { burst: number; rounds: number },
  server: Child = publisher,
): Promise<Figures> {
  const perSecond: number[] = [];
  const cpuPerDelivery: number[] = [];
  let clientCpu = 0;
  let clientWall = 0;
  const total = receivers * burst;
  for (let round = -1; round < rounds; round++) {
    const [cpu0] = await cpuOf([server]);
    const clientCpu0 = await cpuOf(clients);
    const { started, at } = await burstOnce(publisher, clients, receivers, burst);
    const [cpu1] = await cpuOf([server]);
    const clientCpu1 = await cpuOf(clients);
    if (round < 0) continue; // the first round warms up
    perSecond.push(total / ((at - started) / 1_000));
    cpuPerDelivery.push((cpu1! - cpu0!) / total);
    clientCpu += Math.max(...clientCpu1.map((c, i) => c - clientCpu0[i]!));
    clientWall += (at - started) * 1_000;
  }
  return {
    deliveriesPerSecond: median(perSecond),
    cpuMicrosPerDelivery: median(cpuPerDelivery),
    clientCpuPercent: (100 * clientCpu) / clientWall,
  };
}

/** The deliveries client process `i` of `processes` gets: its share of the receivers, times the burst. */
function shareOf(total: number, processes: number, i: number, burst: number): number {
  const receivers = total / burst;
  const share = Math.ceil(receivers / processes);
  return Math.max(0, Math.min(share, receivers - i * share)) * burst;
}

/** Server RSS and heap (after GC) now. */
export function memoryOf(server: Child) {
  return server.ask<{ rss: number; heapUsed: number; connections: number }>('memory');
}
