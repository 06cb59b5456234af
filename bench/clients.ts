import { performance } from 'node:perf_hooks';
import { PROTOCOLS, type ClientProtocol } from './client-protocols.js';
import { serve } from './ipc.js';
import { RawSocket } from './raw-socket.js';
import { openConcurrently, Tally, tallyCommands, type ConnectArgs } from './tally.js';

// Load clients, in a process of their own: raw WebSocket sockets (raw-socket.ts)
// speaking each peer's protocol. They count messages, and in latency mode read
// each one's send time.

let protocol: ClientProtocol;
let sockets: RawSocket[] = [];
let dropped = 0;
/** Users opened so far by this process: each socket is a user of its own. */
let users = 0;
const tally = new Tally();
/** Counted frames' bytes, the busiest socket's count, and when the last came. */
let countedBytes = 0;
let maxFramesPerSocket = 0;
let lastAt = 0;
/** Bytes of the frames each socket read while joining (a join reply's snapshot). */
let handshakeBytes = 0;

function open(
  port: number,
  room: string,
  user: string,
  localAddress: string | undefined,
): Promise<RawSocket> {
  return new Promise((resolve, reject) => {
    let joined = false;
    let counted = 0;
    const countPrefix = protocol.countPrefix ? Buffer.from(protocol.countPrefix) : undefined;
    // Every client is a user of its own (peers without authentication ignore it).
    const headers = { authorization: `Bearer ${user}` };
    const socket: RawSocket = new RawSocket(
      '127.0.0.1',
      port,
      protocol.path,
      headers,
      {
        countPrefix,
        onOpen() {
          if (protocol.handshake(socket, '', room)) joined = true;
        },
        onCount(length) {
          tally.add(1);
          if (!protocol.recordsFrames) return;
          countedBytes += length;
          maxFramesPerSocket = Math.max(maxFramesPerSocket, ++counted);
          lastAt = performance.timeOrigin + performance.now();
        },
        onText(frame) {
          if (joined) {
            tally.add(protocol.messages(socket, frame, tally.stamps));
          } else if (protocol.handshake(socket, frame, room)) {
            handshakeBytes += Buffer.byteLength(frame);
            joined = true;
            resolve(socket);
          }
        },
        onClose(error) {
          if (joined) dropped++;
          else reject(error ?? new Error('closed before joining'));
        },
      },
      localAddress,
    );
  });
}

serve({
  /** Opens `count` sockets (at most `concurrency` handshakes at once) and joins each to `room`. */
  async connect(args: ConnectArgs) {
    protocol = PROTOCOLS[args.peer]!;
    const ms = await openConcurrently(args.count, args.concurrency, async (index) => {
      const local = args.localAddresses?.[index % args.localAddresses.length];
      sockets.push(await open(args.port, args.room, `${process.pid}-${users++}`, local));
    });
    return { ms, open: sockets.length };
  },
  ...tallyCommands(tally),
  latency({ on }: { on: boolean }) {
    // Send times are in the payloads: every frame is read while latency is on.
    for (const socket of sockets) socket.decodeAll = on;
    return tally.latency(on);
  },
  status: () => ({
    open: sockets.filter((s) => s.isOpen).length,
    dropped,
    frames: tally.received,
    bytes: countedBytes,
    maxFramesPerSocket,
    handshakeBytes,
    lastAt,
  }),
  close() {
    for (const socket of sockets) socket.terminate();
    sockets = [];
    setImmediate(() => process.exit(0));
  },
});
