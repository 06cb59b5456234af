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
    expect(decode(frameText(payload))).toEqual([payload.toString()]);
  });
});

describe('TextFramer', () => {
  it('frames a payload once for all its recipients', () => {
    const framer = new TextFramer();
    const a = Buffer.from('{"a":1}');
    const b = Buffer.from('{"b":2}');
    const first = framer.frame(a);
    expect(framer.frame(a)).toBe(first);
    expect(decode(framer.frame(b))).toEqual(['{"b":2}']);
    expect(framer.frame(a)).not.toBe(first);
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
  });
});
