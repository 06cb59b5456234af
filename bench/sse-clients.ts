import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { serve } from './ipc.js';
import { openConcurrently, Tally, tallyCommands, type ConnectArgs } from './tally.js';

// SSE load clients, in a process of their own (startClients('sse-clients.js')): one
// HTTP request, on a socket of its own, per stream. They count the broadcast's
// `msg` events, and in latency mode read each one's send time.

/** Where each peer serves its streams of room `room`. */
const PATHS: Record<string, (room: string) => string> = {
  'nest-realtime': (room) => `/realtime/events?room=${encodeURIComponent(room)}`,
  'nest-sse': (room) => `/events?room=${encodeURIComponent(room)}`,
};

/**
 * The event that says a stream is in its room: nest-realtime's `rt:joined`. A plain
 * Nest stream is subscribed before its headers are sent, so its headers say it.
 */
const OPENING: Record<string, Buffer | undefined> = {
  'nest-realtime': Buffer.from('event: rt:joined\n'),
};

/** The field line of a broadcast message (the line before it ends in `\n`). */
const MSG = Buffer.from('event: msg\n');
const END = Buffer.from('\n\n');
const STAMP = Buffer.from('"t":');
/** An event longer than this is not the bench's: the stream is cut. */
const MAX_EVENT_BYTES = 1 << 20;
/** A stream not open by then fails its `connect`. */
const OPEN_TIMEOUT = 30_000;

/** One SSE stream: its request, and the tail of an event not yet complete. */
interface Stream {
  readonly request: ClientRequest;
  response?: IncomingMessage;
  /** Bytes after the last blank line seen: the start of the next event. */
  pending?: Buffer;
}

let streams: Stream[] = [];
let dropped = 0;
let closing = false;
/** Users opened so far by this process: each stream is a user of its own. */
let users = 0;
const tally = new Tally();

/**
 * Counts the `msg` events of whole events `bytes[0, end)` (each `event: msg` line
 * that starts a line), pushing each one's `"t"` into `stamps` in latency mode.
 */
function count(bytes: Buffer, end: number, stamps: number[] | undefined): number {
  let messages = 0;
  for (let at = bytes.indexOf(MSG); at !== -1 && at < end; at = bytes.indexOf(MSG, at + 1)) {
    if (at > 0 && bytes[at - 1] !== 0x0a) continue;
    messages++;
    if (stamps) stamps.push(stampAfter(bytes, at, end));
  }
  return messages;
}

/** The number after the first `"t":` past `from` (the payload's send time). */
function stampAfter(bytes: Buffer, from: number, end: number): number {
  const at = bytes.indexOf(STAMP, from);
  if (at === -1 || at >= end) throw new Error('a msg event without its "t"');
  let stop = at + STAMP.length;
  while (stop < end && bytes[stop] !== 0x2c && bytes[stop] !== 0x7d) stop++;
  return Number(bytes.toString('latin1', at + STAMP.length, stop));
}

/**
 * Reads a chunk of a stream: counts the messages of its whole events and keeps
 * the rest for the next chunk. Returns whether those events held `opening`.
 */
function read(stream: Stream, chunk: Buffer, opening: Buffer | undefined): boolean {
  const bytes = stream.pending ? Buffer.concat([stream.pending, chunk]) : chunk;
  const last = bytes.lastIndexOf(END);
  const end = last === -1 ? 0 : last + END.length;
  stream.pending = end === bytes.length ? undefined : Buffer.from(bytes.subarray(end));
  if (stream.pending && stream.pending.length > MAX_EVENT_BYTES) {
    throw new Error(`an event longer than ${MAX_EVENT_BYTES} bytes`);
  }
  if (end > 0) tally.add(count(bytes, end, tally.stamps));
  if (!opening || end === 0) return false;
  const at = bytes.indexOf(opening);
  return at !== -1 && at < end && (at === 0 || bytes[at - 1] === 0x0a);
}

/** Opens one stream; resolves once it is in the room. */
function open(peer: string, port: number, room: string, user: string): Promise<Stream> {
  const opening = OPENING[peer];
  return new Promise((resolve, reject) => {
    let isOpen = false;
    const fail = (error: Error) => {
      clearTimeout(timer);
      req.destroy();
      reject(error);
    };
    const opened = () => {
      isOpen = true;
      clearTimeout(timer);
      resolve(stream);
    };
    const req = request({
      host: '127.0.0.1',
      port,
      path: PATHS[peer]!(room),
      // A socket of its own, never pooled nor kept for another request.
      agent: false,
      headers: { accept: 'text/event-stream', authorization: `Bearer ${user}` },
    });
    const stream: Stream = { request: req };
    const timer = setTimeout(
      () => fail(new Error(`a stream did not open within ${OPEN_TIMEOUT} ms`)),
      OPEN_TIMEOUT,
    );
    req.on('error', (error) => {
      if (isOpen) return; // its close counts it as dropped
      fail(error);
    });
    req.on('response', (response) => {
      if (response.statusCode !== 200) {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (text: string) => {
          if (body.length < 500) body += text;
        });
        response.on('end', () =>
          fail(new Error(`HTTP ${response.statusCode}: ${body.slice(0, 500)}`)),
        );
        return;
      }
      stream.response = response;
      response.on('data', (chunk: Buffer) => {
        try {
          if (read(stream, chunk, isOpen ? undefined : opening) && !isOpen) opened();
        } catch (error) {
          // Before it opened, its connect fails; after, it is cut and counts as dropped.
          if (isOpen) console.error(`sse-clients: a stream was cut: ${String(error)}`);
          fail(error as Error);
        }
      });
      response.on('close', () => {
        if (isOpen && !closing) dropped++;
        else if (!isOpen) fail(new Error('the stream ended before it opened'));
      });
      if (!opening) opened();
    });
    req.end();
  });
}

serve({
  /** Opens `count` streams of `room` (at most `concurrency` opening at once). */
  async connect(args: ConnectArgs) {
    if (!PATHS[args.peer]) throw new Error(`no SSE client for peer "${args.peer}"`);
    const ms = await openConcurrently(args.count, args.concurrency, async () => {
      streams.push(await open(args.peer, args.port, args.room, `${process.pid}-${users++}`));
    });
    return { ms, open: streams.length };
  },
  ...tallyCommands(tally),
  status: () => ({
    open: streams.filter((s) => s.response && !s.response.destroyed).length,
    dropped,
  }),
  close() {
    closing = true;
    for (const stream of streams) stream.request.destroy();
    streams = [];
    setImmediate(() => process.exit(0));
  },
});
