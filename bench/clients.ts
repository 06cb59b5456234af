import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { PROTOCOLS, type ClientProtocol } from './client-protocols.js';
import { serve } from './ipc.js';
import { Tally, tallyCommands } from './tally.js';

// Load clients, in a process of their own: raw `ws` sockets speaking each peer's
// protocol. They count messages, and in latency mode read each one's send time.

let protocol: ClientProtocol;
let sockets: WebSocket[] = [];
let dropped = 0;
/** Users opened so far by this process: each socket is a user of its own. */
let users = 0;
const tally = new Tally();

function onFrame(socket: WebSocket, frame: string): void {
  tally.add(protocol.messages(socket, frame, tally.stamps));
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
  ...tallyCommands(tally),
  status: () => ({ open: sockets.filter((s) => s.readyState === WebSocket.OPEN).length, dropped }),
  close() {
    for (const socket of sockets) socket.terminate();
    sockets = [];
    setImmediate(() => process.exit(0));
  },
});
