import type { StreamSink } from '../stream-connection.js';

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

/** The fields of a frame, read once however many streams it goes to. */
const read = new WeakMap<Buffer, Omit<EventMessage, 'event'>>();

/** A string field of a parsed object, or empty. */
function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

/**
 * A frame (the hub's encoded message), or the JSON of one of the stream's own
 * events (`rt:joined`, `rt:resync`, which carries its room's place), as an Event.
 */
function eventOf(event: string, data: Buffer | string): EventMessage {
  if (typeof data === 'string') {
    const { room, epoch, offset } = JSON.parse(data) as Record<string, unknown>;
    const place = typeof offset === 'number' ? offset : 0;
    return { event, room: text(room), offset: place, epoch: text(epoch), data, ack: '' };
  }
  let fields = read.get(data);
  if (!fields) {
    const frame = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    fields = {
      room: text(frame.room),
      offset: typeof frame.offset === 'number' ? frame.offset : 0,
      epoch: text(frame.epoch),
      data: JSON.stringify(frame.data ?? null),
      ack: text(frame.ack),
    };
    read.set(data, fields);
  }
  return { event, ...fields };
}

/**
 * Events written to a gRPC call as messages (`wrap` makes the message the method
 * sends; `undefined` skips an event). What waits unsent is counted in bytes until
 * grpc-js has sent it, which is what bounds a client that does not read.
 */
export function callSink(
  call: WritableCall,
  wrap: (event: EventMessage) => object | undefined,
  end: (code: number, reason: string) => void,
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
      const message = wrap(eventOf(event, data));
      if (message) send(message, data.length + 64);
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
