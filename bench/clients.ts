import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { PROTOCOLS, type ClientProtocol } from './client-protocols.js';
import { serve } from './ipc.js';

// Load clients, in a process of their own: raw `ws` sockets speaking each peer's
// protocol. They count messages, and in latency mode read each one's send time.

let protocol: ClientProtocol;
let sockets: WebSocket[] = [];
let received = 0;
let dropped = 0;
/** Users opened so far by this process: each socket is a user of its own. */
let users = 0;
let stamps: number[] | undefined;
let latencies: number[] = [];
let waiting: { target: number; resolve: () => void } | undefined;

function onFrame(socket: WebSocket, frame: string): void {
  const before = stamps?.length ?? 0;
  const count = protocol.messages(socket, frame, stamps);
  if (count === 0) return;
  if (stamps) {
    const now = performance.timeOrigin + performance.now();
    for (let i = before; i < stamps.length; i++) latencies.push(now - stamps[i]!);
    stamps.length = 0;
  }
  received += count;
  if (waiting && received >= waiting.target) {
    waiting.resolve();
    waiting = undefined;
  }
}

function open(
  url: string,
  room: string,
  user: string,
  localAddress: string | undefined,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // Every client is a user of its own (peers without authentication ignore it).
    const headers = { authorization: `Bearer ${user}` };
    const socket = new WebSocket(url, { localAddress, perMessageDeflate: false, headers });
    let joined = false;
    socket.on('open', () => {
      if (protocol.handshake(socket, '', room)) joined = true;
    });
    socket.on('message', (raw) => {
      const frame = raw.toString();
      if (joined) return onFrame(socket, frame);
      if (protocol.handshake(socket, frame, room)) {
        joined = true;
        resolve(socket);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => {
      if (joined) dropped++;
      else reject(new Error('closed before joining'));
    });
  });
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

serve({
  /** Opens `count` sockets (at most `concurrency` handshakes at once) and joins each to `room`. */
  async connect(args: {
    peer: string;
    port: number;
    count: number;
    room: string;
    concurrency: number;
    localAddresses?: string[];
  }) {
    protocol = PROTOCOLS[args.peer]!;
    const url = `ws://127.0.0.1:${args.port}${protocol.path}`;
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < args.count) {
        const index = next++;
        const local = args.localAddresses?.[index % args.localAddresses.length];
        sockets.push(await open(url, args.room, `${process.pid}-${users++}`, local));
      }
    };
    await Promise.all(Array.from({ length: Math.min(args.concurrency, args.count) }, worker));
    return { ms: performance.now() - started, open: sockets.length };
  },
  /** Resolves once `total` messages have arrived since the last reset. */
  expect({ total }: { total: number }) {
    return new Promise<void>((resolve) => {
      if (received >= total) resolve();
      else waiting = { target: total, resolve };
    }).then(() => ({ at: performance.timeOrigin + performance.now() }));
  },
  reset() {
    received = 0;
    latencies = [];
  },
  latency({ on }: { on: boolean }) {
    stamps = on ? [] : undefined;
    if (on) return undefined;
    const sorted = latencies.toSorted((a, b) => a - b);
    return {
      samples: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? 0,
    };
  },
  status: () => ({ open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length, dropped }),
  close() {
    for (const socket of sockets) socket.terminate();
    sockets = [];
    setImmediate(() => process.exit(0));
  },
});
