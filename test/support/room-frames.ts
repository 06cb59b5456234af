import { expect } from 'vitest';

/**
 * A frame sent to exactly one room, as the server numbers it: the same frame with
 * the room stream's `offset` and `epoch` appended. Give `offset` when the test
 * knows it (the first message to a fresh room is 1); otherwise any number.
 *
 * @example
 * ```ts
 * expect(await b.next(eventIs('chat'))).toStrictEqual(inRoom({ event: 'chat', data, room: 'lobby' }, 1));
 * ```
 */
export function inRoom<T extends { readonly room: string }>(
  frame: T,
  offset?: number,
): T & { offset: number; epoch: string } {
  return { ...frame, offset: offset ?? expect.any(Number), epoch: expect.any(String) };
}

/**
 * A join's answer (the rt:join reply's data, or `hub.join`'s result): the room's
 * record and where its stream stood at the join (`offset` 0 for a room never
 * written to).
 *
 * @example
 * ```ts
 * expect(await join(a, 'lobby')).toStrictEqual(joinReply({ name: 'lobby', size: 1, created, persistent: false }));
 * ```
 */
export function joinReply<T extends object>(
  reply: T,
  offset = 0,
): T & { epoch: string; offset: number } {
  return { ...reply, epoch: expect.any(String), offset };
}
