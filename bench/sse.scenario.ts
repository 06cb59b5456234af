import { setTimeout as sleep } from 'node:timers/promises';
import { burstRounds, connect, memoryOf, withPeer, type Figures } from './measure.js';

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

/** Load-client processes: their streams split evenly between them. */
const CLIENT_PROCESSES = 2;
const SCRIPT = { script: 'sse-clients.js' };

/** 1 room, N streams, bursts of 100-byte messages: deliveries/s, server CPU per delivery, client CPU. */
function fanout(peer: string, sizes: SseSizes): Promise<Figures> {
  return withPeer(
    peer,
    CLIENT_PROCESSES,
    async (server, port, clients) => {
      await connect(clients, peer, port, sizes.streams);
      return burstRounds(server, clients, sizes.streams, sizes);
    },
    SCRIPT,
  );
}

/** Server RSS and heap per stream, after GC, with N idle streams in one room. */
function memory(peer: string, sizes: SseSizes): Promise<Figures> {
  const { memoryStreams: count } = sizes;
  return withPeer(
    peer,
    CLIENT_PROCESSES,
    async (server, port, clients) => {
      const before = await memoryOf(server);
      await connect(clients, peer, port, count);
      await sleep(500);
      const after = await memoryOf(server);
      if (after.connections !== count) {
        throw new Error(`${peer}: the server holds ${after.connections} of ${count} SSE streams`);
      }
      return {
        rssBytesPerStream: (after.rss - before.rss) / count,
        heapBytesPerStream: (after.heapUsed - before.heapUsed) / count,
      };
    },
    SCRIPT,
  );
}

/**
 * SSE fan-out and memory, for nest-realtime's endpoint (`GET /realtime/events`,
 * authenticated users) and a plain Nest `@Sse()` controller streaming a `Subject`
 * (peers/nest-sse.peer.ts): each stream is a user of its own, on a socket of its own.
 */
export async function sse(peer: string, sizes: SseSizes): Promise<Figures> {
  return { ...(await fanout(peer, sizes)), ...(await memory(peer, sizes)) };
}
