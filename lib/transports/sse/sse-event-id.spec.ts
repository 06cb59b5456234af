import { describe, expect, it } from 'vitest';
import { formatEventId, parseEventId } from './sse-event-id.js';

describe('SSE event ids', () => {
  it('round-trips any room names, in order', () => {
    const positions = new Map([
      ['chat:1', { epoch: 'Zk3x9aQe', offset: 42 }],
      ['a=b,c d', { epoch: 'A-_0', offset: 0 }],
      ['é😀', { epoch: 'E', offset: 9_007_199_254_740_991 }],
    ]);
    const id = formatEventId(positions);
    expect(id).toBe(
      'chat%3A1=Zk3x9aQe:42,a%3Db%2Cc%20d=A-_0:0,%C3%A9%F0%9F%98%80=E:9007199254740991',
    );
    expect(parseEventId(id, 10)).toEqual(positions);
    expect(parseEventId('', 10)).toEqual(new Map());
  });

  it.each([
    ['not an id', 'garbage'],
    ['no offset', 'room=E'],
    ['a negative offset', 'room=E:-1'],
    ['an offset past 2^53', 'room=E:9007199254740993'],
    ['a bad epoch', 'room=E.x:1'],
    ['an epoch too long', `room=${'e'.repeat(65)}:1`],
    ['broken escapes', '%E0%A4%A=E:1'],
    ['an empty room', '=E:1'],
    ['a trailing comma', 'room=E:1,'],
    ['too many rooms', 'a=E:1,b=E:1,c=E:1'],
    ['an id too long', `a=E:1,${'b'.repeat(17_000)}=E:1`],
  ])('refuses %s', (_what, text) => {
    expect(parseEventId(text, 2)).toBeUndefined();
  });
});
