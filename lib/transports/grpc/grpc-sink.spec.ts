import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/index.js';
import { GrpcEventWriter, type EventMessage, type WritableCall } from './grpc-sink.js';

/** A call as grpc-js hands it over, without the internals the writer may use: messages one by one. */
function plainCall(): WritableCall & { written: unknown[] } {
  const written: unknown[] = [];
  return {
    written,
    write(message, callback) {
      written.push(message);
      callback?.();
      return true;
    },
  };
}

const serialize = (message: EventMessage) => Buffer.from(JSON.stringify(message));

describe('GrpcEventWriter', () => {
  it("encodes a frame's Event once for every call, and writes it through call.write without the internals", () => {
    const writer = new GrpcEventWriter(serialize);
    const calls = [plainCall(), plainCall()];
    const sinks = calls.map((call) => writer.sink(call, () => undefined));
    const frame = encodeFrame({ event: 'n', data: 1, room: 'r', offset: 4, epoch: 'e' });
    for (const sink of sinks) sink.event(undefined, 'n', frame);
    const [first, second] = calls.map((call) => call.written[0]);
    expect(first).toBeInstanceOf(Buffer);
    expect(second).toBe(first);
    expect(JSON.parse(String(first))).toEqual({
      event: 'n',
      room: 'r',
      offset: 4,
      epoch: 'e',
      data: '1',
      ack: '',
    });
    expect(sinks[0]!.buffered).toBe(0);
  });

  it("hands the stream's own events (JSON text) to call.write as Event objects", () => {
    const call = plainCall();
    new GrpcEventWriter(serialize)
      .sink(call, () => undefined)
      .event(undefined, 'rt:joined', JSON.stringify({ rooms: [] }));
    expect(call.written[0]).toMatchObject({ event: 'rt:joined', room: '', data: '{"rooms":[]}' });
  });
});
