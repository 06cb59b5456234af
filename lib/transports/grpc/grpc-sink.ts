import type { OutboundFrame } from '../../protocol/index.js';
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
