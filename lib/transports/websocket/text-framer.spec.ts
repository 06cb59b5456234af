import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { frameText, TextFramer } from './text-framer.js';

// ws's own frame parser (exported by ws, though its typings leave it out).
interface FrameParser {
  on(event: 'message', listener: (data: Buffer) => void): void;
  write(chunk: Buffer): void;
}
const { Receiver } = ws as unknown as {
  Receiver: new (options: { isServer: boolean }) => FrameParser;
};

/** Decodes frames with ws's own parser, as a client would. */
function decode(frame: Buffer): string[] {
  const messages: string[] = [];
  const receiver = new Receiver({ isServer: false });
  receiver.on('message', (data) => messages.push(data.toString()));
  receiver.write(frame);
  return messages;
}

describe('frameText', () => {
  it.each([0, 1, 125, 126, 65_535, 65_536, 200_000])('frames a %i-byte payload', (size) => {
    const payload = Buffer.from('é'.repeat(Math.floor(size / 2)) + 'x'.repeat(size % 2));
    expect(payload.length).toBe(size);
    expect(decode(frameText([payload]))).toEqual([payload.toString()]);
  });

  it('frames several payloads back to back', () => {
    const payloads = [Buffer.from('a'), Buffer.alloc(300, 'b'), Buffer.alloc(70_000, 'c')];
    expect(decode(frameText(payloads))).toEqual(payloads.map(String));
  });
});

describe('TextFramer.frames', () => {
  it('frames a tick of payloads once for all the recipients that got the same ones', () => {
    const framer = new TextFramer();
    const a = Buffer.from('{"a":1}');
    const b = Buffer.from('{"b":2}');
    const first = framer.frames([a, b]);
    expect(decode(first)).toEqual(['{"a":1}', '{"b":2}']);
    expect(framer.frames([a, b])).toBe(first);
    expect(decode(framer.frames([b]))).toEqual(['{"b":2}']);
    expect(framer.frames([a, b])).not.toBe(first);
    expect(decode(framer.frames([a, b]))).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('keeps plain and batched sequences apart, so that mixed recipients share both', () => {
    const framer = new TextFramer();
    const tick = [Buffer.from('{"a":1}'), Buffer.from('{"b":2}')];
    const plain = framer.frames(tick);
    const batch = framer.batch(tick);
    expect(framer.frames(tick)).toBe(plain);
    expect(framer.batch(tick)).toBe(batch);
  });
});

describe('TextFramer.batch', () => {
  it('gathers frames as the items of one rt:batch frame, bytes untouched, and reuses it', () => {
    const framer = new TextFramer();
    const frames = [
      Buffer.from('{"event":"a","data":1,"room":"r"}'),
      Buffer.from('{"event":"rt:reply","id":3,"data":null}'),
    ];
    const batch = framer.batch(frames);
    expect(JSON.parse(decode(batch)[0]!)).toEqual({
      event: 'rt:batch',
      data: [
        { event: 'a', data: 1, room: 'r' },
        { event: 'rt:reply', id: 3, data: null },
      ],
    });
    expect(framer.batch([...frames])).toBe(batch);
    expect(framer.batch([frames[1]!, frames[0]!])).not.toBe(batch);
    expect(decode(framer.batch([frames[0]!]))).toEqual([frames[0]!.toString()]);
  });
});
