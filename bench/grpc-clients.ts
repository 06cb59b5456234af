import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS, REALTIME_PROTO_PATH } from 'nest-realtime/grpc';
import { performance } from 'node:perf_hooks';
import { serve } from './ipc.js';
import { Tally, tallyCommands } from './tally.js';

// gRPC load clients, in a process of their own: `Subscribe` calls to one room of
// realtime.v1.Realtime (the same for every peer), counting the room's `msg` events,
// and one `PublishStream` writing into a room.
//
// Calls are spread over channels of `callsPerChannel` calls each, every channel with
// a subchannel pool of its own and so an HTTP/2 connection of its own: one channel
// would multiplex every call of the process on one connection (one socket, one
// HTTP/2 session to parse), which is neither how real clients come nor fair to a
// server that writes per connection.

const SUBSCRIBE = '/realtime.v1.Realtime/Subscribe';
const PUBLISH_STREAM = '/realtime.v1.Realtime/PublishStream';
/** How long a call may take to be told `rt:joined` before `connect` fails. */
const JOIN_TIMEOUT = 30_000;
/**
 * The HTTP/2 window of each channel's connection and of each call, in bytes. grpc-js's
 * default, HTTP/2's 64 KiB, holds a burst to 100 calls of one connection back on
 * WINDOW_UPDATE round trips: the figure would be the client's flow control, not the
 * server. Real clients of grpc's C core grow their window by BDP probing.
 */
const FLOW_CONTROL_WINDOW = 8 << 20;

const definition = protoLoader.loadSync(REALTIME_PROTO_PATH, { ...PROTO_LOADER_OPTIONS });
const service = definition['realtime.v1.Realtime'] as grpc.ServiceDefinition;
const method = service.Subscribe!;
const serializeRequest = method.requestSerialize as (request: object) => Buffer;
const parseEvent = method.responseDeserialize as (bytes: Buffer) => {
  event: string;
  data: string;
};
const serializePublish = service.PublishStream!.requestSerialize as (request: object) => Buffer;
const parseSummary = service.PublishStream!.responseDeserialize as (bytes: Buffer) => object;

/** The start of an Event whose `event` (field 1, a string) is "msg": tag 0x0a, length 3. */
const MSG_PREFIX = Buffer.from([0x0a, 0x03, ...Buffer.from('msg')]);

const tally = new Tally();
let channels: grpc.Client[] = [];
let calls: grpc.ClientReadableStream<Buffer>[] = [];
let open = 0;
let dropped = 0;
let closing = false;
/** Calls opened so far by this process: each is a user of its own. */
let users = 0;
/** The PublishStream, its messages written so far, and its summary (or how it failed). */
let publisher:
  | { call: grpc.ClientWritableStream<object>; written: number; summary: Promise<object> }
  | undefined;
/** How the PublishStream ended, once it has: OK, or its status's code and details. */
let publisherEnded: string | undefined;

/**
 * An Event, counted without decoding it when it is a room's `msg` (the counting is
 * the client's cost, not the server's); decoded only for latency stamps.
 */
function onEvent(bytes: Buffer): void {
  if (bytes.length < MSG_PREFIX.length || MSG_PREFIX.compare(bytes, 0, MSG_PREFIX.length) !== 0) {
    return;
  }
  const { stamps } = tally;
  if (stamps) stamps.push((JSON.parse(parseEvent(bytes).data) as { t: number }).t);
  tally.add(1);
}

/** One `Subscribe` call to `room`, resolved once the server says it is joined. */
function subscribe(client: grpc.Client, room: string, user: string): Promise<void> {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${user}`);
  const call = client.makeServerStreamRequest<object, Buffer>(
    SUBSCRIBE,
    serializeRequest,
    (bytes) => bytes,
    { rooms: [room] },
    metadata,
  );
  calls.push(call);
  return new Promise<void>((resolve, reject) => {
    let joined = false;
    const timer = setTimeout(() => {
      call.cancel();
      reject(new Error(`no rt:joined within ${JOIN_TIMEOUT} ms`));
    }, JOIN_TIMEOUT);
    call.on('data', (bytes: Buffer) => {
      if (joined) return onEvent(bytes);
      if (parseEvent(bytes).event !== 'rt:joined') return;
      joined = true;
      open++;
      clearTimeout(timer);
      resolve();
    });
    // 'status' comes once, however the call ends; 'error' with it for a non-OK one.
    call.on('error', () => undefined);
    call.on('status', (status: grpc.StatusObject) => {
      clearTimeout(timer);
      if (!joined) {
        reject(new Error(`the call ended before joining: ${status.code} ${status.details}`));
        return;
      }
      open--;
      if (!closing) dropped++;
    });
  });
}

serve({
  /** Opens `count` calls (at most `concurrency` joining at once), `callsPerChannel` to a channel. */
  async connect(args: {
    port: number;
    count: number;
    room?: string;
    callsPerChannel?: number;
    concurrency?: number;
  }) {
    const { port, count, room = 'bench', callsPerChannel = 100, concurrency = 200 } = args;
    const started = performance.now();
    for (let made = 0; made < Math.ceil(count / callsPerChannel); made++) {
      channels.push(
        new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
          'grpc.use_local_subchannel_pool': 1,
          'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
        }),
      );
    }
    const ours = channels.slice(channels.length - Math.ceil(count / callsPerChannel));
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const index = next++;
        const channel = ours[Math.floor(index / callsPerChannel)]!;
        await subscribe(channel, room, `${process.pid}-${users++}`);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return { ms: performance.now() - started, open, channels: ours.length };
  },
  /**
   * Opens one `PublishStream`, on a channel of its own without retries: a retrying
   * grpc-js call keeps every message it sent, which would be the client's heap, and
   * clears them in time quadratic in their number.
   */
  openPublishStream({ port }: { port: number }) {
    const channel = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.enable_retries': 0,
    });
    channels.push(channel);
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${process.pid}-publisher`);
    let call!: grpc.ClientWritableStream<object>;
    const summary = new Promise<object>((resolve, reject) => {
      call = channel.makeClientStreamRequest(
        PUBLISH_STREAM,
        serializePublish,
        parseSummary,
        metadata,
        (error, reply) => {
          publisherEnded = error ? `${error.code} ${error.details}` : 'OK';
          if (error) reject(error);
          else resolve(reply!);
        },
      );
    });
    summary.catch(() => undefined); // endPublishStream reports it
    publisher = { call, written: 0, summary };
  },
  /** Writes `count` more messages of about `size` bytes of JSON to `room`, each its own text. */
  publish({ room, count, size }: { room: string; count: number; size: number }) {
    const stream = publisher!;
    const pad = 'x'.repeat(Math.max(0, size - 40));
    return new Promise<void>((resolve, reject) => {
      for (let i = 1; i <= count; i++) {
        const data = JSON.stringify({ n: ++stream.written, pad });
        // Once grpc-js has taken the last one, the step is written.
        const done =
          i === count ? (error?: Error | null) => (error ? reject(error) : resolve()) : undefined;
        stream.call.write({ room, event: 'msg', data }, done);
      }
    });
  },
  /** Ends the PublishStream's writes: resolves with the server's summary. */
  endPublishStream() {
    publisher!.call.end();
    return publisher!.summary;
  },
  ...tallyCommands(tally),
  status: () => ({
    open,
    dropped,
    received: tally.received,
    ...(publisher && { publisher: publisherEnded ?? 'open' }),
  }),
  close() {
    closing = true;
    publisher?.call.cancel();
    for (const call of calls) call.cancel();
    for (const channel of channels) channel.close();
    calls = [];
    channels = [];
    setImmediate(() => process.exit(0));
  },
});
