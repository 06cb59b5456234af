import { describe, expect, it } from 'vitest';
import { formatEventId, parseEventId } from './sse-event-id.js';

describe('SSE event ids', () => {
  const rooms = ['chat:1', 'a=b,c d', 'é😀', 'later'];
  const positions = new Map([
    ['chat:1', { epoch: 'Zk3x9aQe', offset: 42 }],
    ['a=b,c d', { epoch: 'A-_0', offset: 0 }],
    ['é😀', { epoch: 'E', offset: 9_007_199_254_740_991 }],
  ]);

  it('round-trips the positions of a stream, rooms not known yet left out', () => {
    const id = formatEventId(rooms, positions);
    expect(id).toMatch(/^[0-9a-z]+\.Zk3x9aQe:42,A-_0:0,E:9007199254740991,-$/);
    expect(parseEventId(id, rooms)).toEqual(positions);
  });

  it('stays short however long the room names are', () => {
    const long = Array.from({ length: 100 }, (_, i) => `${'x'.repeat(190)}${i}`);
    const all = new Map(long.map((room) => [room, { epoch: 'Zk3x9aQe', offset: 123_456 }]));
    expect(formatEventId(long, all).length).toBeLessThan(1_700);
  });

  it('is read back only by a stream of the same rooms, in the same order', () => {
    const id = formatEventId(rooms, positions);
    expect(parseEventId(id, rooms.toReversed())).toBeUndefined();
    expect(parseEventId(id, rooms.slice(1))).toBeUndefined();
    expect(parseEventId(id, [...rooms, 'more'])).toBeUndefined();
  });

  it.each([
    ['not an id', 'garbage'],
    ['another digest', 'zzzzzz.E:1,-,-,-'],
    ['too few places', 'DIGEST.E:1,-,-'],
    ['no offset', 'DIGEST.E,-,-,-'],
    ['a negative offset', 'DIGEST.E:-1,-,-,-'],
    ['an offset past 2^53', 'DIGEST.E:9007199254740993,-,-,-'],
    ['a bad epoch', 'DIGEST.E.x:1,-,-,-'],
    ['an epoch too long', `DIGEST.${'e'.repeat(65)}:1,-,-,-`],
    ['an id too long', `DIGEST.E:1,-,-,${'-'.repeat(17_000)}`],
  ])('refuses %s', (_what, text) => {
    const digest = formatEventId(rooms, new Map()).split('.')[0]!;
    expect(parseEventId(text.replace('DIGEST', digest), rooms)).toBeUndefined();
  });
});
