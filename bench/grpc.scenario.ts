import { createServer } from 'node:net';
import { burstRounds, connect, withPeer, type Figures } from './measure.js';

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
}

/** A port free now on 127.0.0.1: a gRPC server bound to port 0 would not say which it got. */
export function freePort(): Promise<number> {
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

/**
 * gRPC server-stream fan-out: N `Subscribe` calls to 1 room over `processes` client
 * processes (grpc-clients.ts: 100 calls to a channel of its own), bursts of 100-byte
 * messages as in `fanout`; deliveries/s at the clients, the server's CPU per
 * delivery, and the busiest client process's CPU.
 */
export async function grpc(peer: string, sizes: GrpcSizes): Promise<Figures> {
  const grpcPort = await freePort();
  return withPeer(
    peer,
    sizes.processes,
    async (server, _httpPort, clients) => {
      await connect(clients, peer, grpcPort, sizes.calls);
      const held = await server.ask<number>('connections');
      if (held !== sizes.calls)
        throw new Error(`grpc ${peer}: the server holds ${held} of ${sizes.calls} calls`);
      return burstRounds(server, clients, sizes.calls, sizes);
    },
    { script: 'grpc-clients.js', env: { BENCH_GRPC_PORT: String(grpcPort) } },
  );
}
