import type { StreamSink } from '../transports/stream-connection.js';

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

/** The fields of a frame, read once however many streams it goes to. */
const read = new WeakMap<Buffer, Omit<EventMessage, 'event'>>();

/**
 * A frame (the hub's encoded message), or the JSON of one of the stream's own
 * events (`rt:joined`, `rt:resync`), as an Event message.
 */
function eventOf(event: string, data: Buffer | string): EventMessage {
  if (typeof data === 'string') {
    const { room } = JSON.parse(data) as { room?: unknown };
    return {
      event,
      room: typeof room === 'string' ? room : '',
      offset: 0,
      epoch: '',
      data,
      ack: '',
    };
  }
  let fields = read.get(data);
  if (!fields) {
    const frame = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    fields = {
      room: typeof frame.room === 'string' ? frame.room : '',
      offset: typeof frame.offset === 'number' ? frame.offset : 0,
      epoch: typeof frame.epoch === 'string' ? frame.epoch : '',
      data: JSON.stringify(frame.data ?? null),
      ack: typeof frame.ack === 'string' ? frame.ack : '',
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
): StreamSink {
  let pending = 0;
  return {
    event(_id, event, data) {
      const message = wrap(eventOf(event, data));
      if (!message) return;
      const size = data.length + 64;
      pending += size;
      call.write(message, () => {
        pending -= size;
      });
    },
    comment: () => undefined, // HTTP/2 has pings of its own
    get buffered() {
      return pending;
    },
    end,
  };
}
