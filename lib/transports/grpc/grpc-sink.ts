import type { OutboundFrame } from '../../protocol/index.js';
import { LastSequence } from '../last-sequence.js';
import type { StreamSink } from '../stream-connection.js';
import { TickQueue } from '../tick-queue.js';
import { WriteCoalescer } from '../write-coalescer.js';

/** An `Event` message of protos/realtime/v1/realtime.proto. */
export interface EventMessage {
  event: string;
  room: string;
  offset: number;
  epoch: string;
  /** The payload, as JSON text. */
  data: string;
  ack: string;
}

/** What a gRPC call needs of a writable: grpc-js's server streams fit. */
export interface WritableCall {
  write(message: object, callback?: () => void): boolean;
}

/** A sink that writes to a gRPC call, and sends other messages (replies) counted the same way. */
export interface CallSink extends StreamSink {
  send(message: object, size: number): void;
}

/**
 * A frame of the hub (its fields as the frame value carries them), or the JSON of one
 * of the stream's own events (`rt:joined`, `rt:resync`, which carries its room's
 * place), as an Event.
 */
function eventOf(event: string, data: OutboundFrame | string): EventMessage {
  if (typeof data === 'string') {
    const { room, epoch, offset } = JSON.parse(data) as Record<string, unknown>;
    const place = typeof offset === 'number' ? offset : 0;
    return {
      event,
      room: typeof room === 'string' ? room : '',
      offset: place,
      epoch: typeof epoch === 'string' ? epoch : '',
      data,
      ack: '',
    };
  }
  const facts = data.facts!;
  return {
    event,
    room: facts.room ?? '',
    offset: facts.offset ?? 0,
    epoch: facts.epoch ?? '',
    data: data.dataJson,
    ack: facts.ack ?? '',
  };
}

/**
 * Encodes a hub frame's `Event` message once for every call it goes to: a
 * broadcast hands the same frame to every subscriber in turn, so the last one's
 * bytes serve the next. The bytes are written to the call as they are, which the
 * method's serializer lets through (see connectRealtimeGrpc).
 *
 * @example
 * ```ts
 * const encoder = new EventEncoder((message) => Buffer.from(JSON.stringify(message)));
 * encoder.bytesOf('chat', frame) === encoder.bytesOf('chat', frame); // true
 * ```
 */
export class EventEncoder {
  private last: { event: string; frame: OutboundFrame; bytes: Buffer } | undefined;

  constructor(
    /** The method's own serializer: an Event's protobuf bytes. */
    readonly serialize: (message: EventMessage) => Buffer,
  ) {}

  bytesOf(event: string, frame: OutboundFrame): Buffer {
    const { last } = this;
    if (last?.frame === frame && last.event === event) return last.bytes;
    const bytes = this.serialize(eventOf(event, frame));
    this.last = { event, frame, bytes };
    return bytes;
  }
}

/**
 * What grpc-js keeps of a server call, where it keeps it: the HTTP/2 stream the
 * call's messages are written to, and the sending of its response headers. grpc-js
 * has no public way to write several messages at once; where these are found (a
 * call without server interceptors, as Nest makes them), a Subscribe call's messages
 * are written to the stream directly, a tick's in one write; elsewhere through
 * `call.write`, one by one.
 */
interface CallInternals {
  readonly stream: {
    write(bytes: Buffer): boolean;
    readonly writableLength: number;
    readonly destroyed: boolean;
    readonly writableEnded: boolean;
  };
  maybeSendMetadata(): void;
}

function internalsOf(call: WritableCall): CallInternals | undefined {
  const inner = (call as { call?: Partial<CallInternals> }).call;
  const stream = inner?.stream;
  if (typeof inner?.maybeSendMetadata !== 'function' || typeof stream?.write !== 'function') {
    return undefined;
  }
  return inner as CallInternals;
}

/** gRPC's length-prefixed messages (uncompressed) back to back in one buffer. */
function lengthPrefixed(messages: readonly Buffer[]): Buffer {
  let size = 0;
  for (const message of messages) size += 5 + message.length;
  const bytes = Buffer.allocUnsafe(size);
  let at = 0;
  for (const message of messages) {
    bytes[at] = 0; // not compressed
    bytes.writeUInt32BE(message.length, at + 1);
    at += 5 + message.copy(bytes, at + 5);
  }
  return bytes;
}

/**
 * What every Subscribe call of the server shares: each event encoded once for all
 * its calls, and, where the call lets it (see CallInternals), one write per call
 * per tick of bytes framed once for every call that got the same events.
 *
 * @example
 * ```ts
 * const writer = new GrpcEventWriter(serialize);
 * const sink = writer.sink(call, (code, reason) => endCall(code, reason));
 * ```
 */
export class GrpcEventWriter {
  readonly encoder: EventEncoder;
  private readonly coalescer = new WriteCoalescer();
  private readonly sequence = new LastSequence();

  constructor(serialize: (message: EventMessage) => Buffer) {
    this.encoder = new EventEncoder(serialize);
  }

  /** The sink of one Subscribe call. */
  sink(call: WritableCall, end: (code: number, reason: string) => void): StreamSink {
    const internals = internalsOf(call);
    if (!internals) return callSink(call, (event) => event, end, this.encoder);
    const { stream } = internals;
    const queue = new TickQueue(this.coalescer, (messages) => {
      if (stream.destroyed || stream.writableEnded) return;
      internals.maybeSendMetadata();
      stream.write(this.sequence.bytesOf(messages, lengthPrefixed));
    });
    const { encoder } = this;
    return {
      event(_id, event, data) {
        queue.push(
          typeof data === 'string'
            ? encoder.serialize(eventOf(event, data))
            : encoder.bytesOf(event, data),
        );
      },
      ids: false,
      comment: () => undefined,
      get buffered() {
        return stream.writableLength + queue.queued;
      },
      end(code, reason) {
        queue.flush(); // what was sent goes before the status
        end(code, reason);
      },
    };
  }
}

/**
 * Events written to a gRPC call as messages (`wrap` makes the message the method
 * sends; `undefined` skips an event), or, given an `encoder`, a hub frame's
 * `Event` as the bytes it encoded once for every call. What waits unsent is
 * counted in bytes until grpc-js has sent it, which is what bounds a client that
 * does not read.
 */
export function callSink(
  call: WritableCall,
  wrap: (event: EventMessage) => object | undefined,
  end: (code: number, reason: string) => void,
  encoder?: EventEncoder,
): CallSink {
  let pending = 0;
  const send = (message: object, size: number): void => {
    pending += size;
    call.write(message, () => {
      pending -= size;
    });
  };
  return {
    event(_id, event, data) {
      if (encoder && typeof data !== 'string') {
        const bytes = encoder.bytesOf(event, data);
        send(bytes, bytes.length);
        return;
      }
      const message = wrap(eventOf(event, data));
      if (message) send(message, (typeof data === 'string' ? data : data.bytes).length + 64);
    },
    send,
    ids: false, // an Event carries its room, offset and epoch itself
    comment: () => undefined, // HTTP/2 has pings of its own
    get buffered() {
      return pending;
    },
    end,
  };
}
