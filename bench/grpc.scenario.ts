import { createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startClients, startServer } from './processes.js';

/** The sizes of the gRPC scenario. */
export interface GrpcSizes {
  /** Subscribe calls to the room, over every client process. */
  calls: number;
  /** Messages in one burst. */
  burst: number;
  /** Measured rounds, after one that warms up. */
  rounds: number;
  /** Client processes the calls are spread over. */
  processes: number;
  /** Calls that share one channel (one HTTP/2 connection); 100 unless told. */
  callsPerChannel?: number;
}

export const GRPC_FULL: GrpcSizes = { calls: 1_000, burst: 200, rounds: 5, processes: 2 };
export const GRPC_SMOKE: GrpcSizes = { calls: 20, burst: 10, rounds: 1, processes: 1 };

/** The peers that serve realtime.v1.Realtime; others sit the scenario out. */
const GRPC_PEERS = new Set(['nest-realtime', 'grpc-js', 'grpc-js-encoded']);
const ROOM = 'bench';
const SIZE = 100;

/** A port free now on 127.0.0.1: a gRPC server bound to port 0 would not say which it got. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

const median = (values: number[]) =>
  values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!;
const now = () => performance.timeOrigin + performance.now();

/**
 * gRPC server-stream fan-out: N `Subscribe` calls to 1 room over `processes` client
 * processes, bursts of 100-byte messages as in `fanout`; deliveries/s at the clients,
 * the server's CPU per delivery, and the busiest client process's CPU over the
 * measured rounds in percent of one core (near 100: the clients are the bottleneck,
 * and deliveries/s is a lower bound of the server's).
 */
export async function grpc(peer: string, sizes: GrpcSizes): Promise<Record<string, number>> {
  if (!GRPC_PEERS.has(peer)) return {};
  const { calls, burst, rounds, processes, callsPerChannel = 100 } = sizes;
  const grpcPort = await freePort();
  const { server } = await startServer(peer, { BENCH_GRPC_PORT: String(grpcPort) });
  const clients = Array.from({ length: processes }, () => startClients('grpc-clients.js'));
  try {
    const share = Math.ceil(calls / processes);
    const counts = clients.map((_, i) => Math.max(0, Math.min(share, calls - i * share)));
    const opened = await Promise.all(
      clients.map((client, i) =>
        client.ask<{ open: number }>('connect', {
          port: grpcPort,
          count: counts[i],
          room: ROOM,
          callsPerChannel,
        }),
      ),
    );
    const open = opened.reduce((sum, r) => sum + r.open, 0);
    const held = await server.ask<number>('connections');
    if (open !== calls || held !== calls) {
      throw new Error(`grpc ${peer}: ${open} calls open, the server holds ${held}, of ${calls}`);
    }
    const perSecond: number[] = [];
    const cpuPerDelivery: number[] = [];
    const clientCpu = clients.map(() => 0);
    let clientMs = 0;
    for (let round = -1; round < rounds; round++) {
      await Promise.all(clients.map((client) => client.ask('reset')));
      const clientsFrom = now();
      const clientCpu0 = await Promise.all(clients.map((client) => client.ask<number>('cpu')));
      const cpu0 = await server.ask<number>('cpu');
      const started = now();
      const done = Promise.all(
        clients.map((client, i) =>
          client.ask<{ at: number }>('expect', { total: counts[i]! * burst }),
        ),
      );
      await server.ask('burst', { room: ROOM, count: burst, size: SIZE });
      const at = Math.max(...(await done).map((d) => d.at));
      const cpu1 = await server.ask<number>('cpu');
      const clientCpu1 = await Promise.all(clients.map((client) => client.ask<number>('cpu')));
      const clientsTo = now();
      if (round < 0) continue; // the first round warms up
      perSecond.push((calls * burst) / ((at - started) / 1_000));
      cpuPerDelivery.push((cpu1 - cpu0) / (calls * burst));
      // The clients' CPU over the time between its two readings, which bracket the round.
      clientMs += clientsTo - clientsFrom;
      clientCpu.forEach((_, i) => (clientCpu[i]! += clientCpu1[i]! - clientCpu0[i]!));
    }
    return {
      deliveriesPerSecond: median(perSecond),
      cpuMicrosPerDelivery: median(cpuPerDelivery),
      clientCpuPercent: Math.max(...clientCpu) / (clientMs * 10),
    };
  } finally {
    await Promise.all(clients.map((client) => client.stop()));
    await server.stop();
  }
}
