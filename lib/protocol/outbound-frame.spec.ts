import { describe, expect, it } from 'vitest';
import { encodeFrame, OutboundFrame } from './outbound-frame.js';

describe('encodeFrame', () => {
  it('encodes the same JSON object it is given, whatever its fields', () => {
    for (const frame of [
      { event: 'rt:ping' },
      { event: 'chat', data: { text: 'hi', n: [1, 2] }, room: 'lobby' },
      { event: 'rt:reply', id: 7, data: null },
      { event: 'rt:reply', id: 'a', error: { code: 'X', message: 'm' } },
      { event: 'x', data: undefined, ack: 'k' },
    ]) {
      expect(JSON.parse(encodeFrame(frame).text)).toEqual(JSON.parse(JSON.stringify(frame)));
    }
  });

  it('keeps what it was made of, and serialises data once: later changes do not reach it', () => {
    const data = { score: 1 };
    const frame = encodeFrame({ event: 'state', data, room: 'game' });
    data.score = 2;
    expect(frame.facts).toMatchObject({ event: 'state', room: 'game' });
    expect(frame.dataJson).toBe('{"score":1}');
    expect(JSON.parse(frame.text).data).toEqual({ score: 1 });
  });

  it('honours an object that says how it is serialised', () => {
    const frame = encodeFrame({ event: 'x', data: 1, toJSON: () => ({ event: 'y' }) });
    expect(frame.text).toBe('{"event":"y"}');
    expect(frame.facts?.event).toBe('y');
  });
});

describe('OutboundFrame', () => {
  it('reads the facts of bytes that came without them, once', () => {
    const frame = new OutboundFrame(
      Buffer.from('{"event":"chat","data":[1],"room":"r","offset":4,"epoch":"E","ack":"a1"}'),
    );
    expect(frame.facts).toEqual({
      event: 'chat',
      data: [1],
      room: 'r',
      offset: 4,
      epoch: 'E',
      ack: 'a1',
    });
    expect(frame.facts).toBe(frame.facts);
    expect(frame.dataJson).toBe('[1]');
  });

  it('is no frame for bytes without a string event', () => {
    for (const text of ['{}', 'not json', '{"event":3}', 'null']) {
      expect(new OutboundFrame(Buffer.from(text)).facts).toBeNull();
    }
    expect(new OutboundFrame(Buffer.from('{}')).dataJson).toBe('null');
  });

  it('trusts the facts it is given: the bytes are not read', () => {
    const frame = new OutboundFrame(Buffer.from('not json'), { event: 'e', room: 'r' }, '5');
    expect(frame.facts).toEqual({ event: 'e', room: 'r' });
    expect(frame.dataJson).toBe('5');
  });
});
