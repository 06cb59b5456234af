import { performance } from 'node:perf_hooks';
import { serve } from './ipc.js';
import type { PeerServer } from './peers/peer.js';

// The server under test, in a process of its own: `node server.js <peer>`.

const peerName = process.argv[2]!;
// nest-realtime's modes (batched, presence) are the same server; only its clients differ.
const serverName = peerName.startsWith('nest-realtime') ? 'nest-realtime' : peerName;
let server: PeerServer;
let timer: NodeJS.Timeout | undefined;

/**
 * Messages of about `size` bytes of JSON, each stamped with when it was due: now,
 * or for a steady rate the moment the schedule meant it to go, so that a server
 * falling behind shows its lag (no coordinated omission).
 */
function payload(size: number, due?: () => number): () => object {
  const pad = 'x'.repeat(Math.max(0, size - 40));
  return () => ({ t: performance.timeOrigin + (due ? due() : performance.now()), pad });
}

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run the server with --expose-gc');
  collect();
  collect();
}

serve({
  async start() {
    const { start } = (await import(`./peers/${serverName}.peer.js`)) as {
      start(): Promise<PeerServer>;
    };
    server = await start();
    return { port: server.port };
  },
  burst({ room, count, size }: { room: string; count: number; size: number }) {
    server.broadcast(room, count, payload(size));
  },
  /** Publishes `rate` messages a second to `room` until `stop`. */
  steady({ room, rate, size }: { room: string; rate: number; size: number }) {
    const period = 1_000 / rate;
    const started = performance.now();
    let sent = 0;
    let stamped = 0;
    const make = payload(size, () => started + stamped++ * period);
    const tick = () => {
      const due = Math.floor((performance.now() - started) / period) + 1;
      if (due > sent) {
        server.broadcast(room, due - sent, make);
        sent = due;
      }
      timer = setTimeout(tick, Math.max(0, sent * period + started - performance.now()));
    };
    tick();
  },
  stop() {
    clearTimeout(timer);
  },
  cpu() {
    const { user, system } = process.cpuUsage();
    return user + system;
  },
  memory() {
    gc();
    const { rss, heapUsed } = process.memoryUsage();
    return { rss, heapUsed, connections: server?.connections() ?? 0 };
  },
  connections: () => server.connections(),
  async close() {
    clearTimeout(timer);
    await server?.close();
    setImmediate(() => process.exit(0));
  },
});
