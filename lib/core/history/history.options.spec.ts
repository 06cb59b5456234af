import { describe, expect, it } from 'vitest';
import { resolveHistoryOptions } from './history.options.js';

describe('resolveHistoryOptions', () => {
  it('keeps nothing by default', () => {
    expect(resolveHistoryOptions(undefined)).toEqual({
      maxCount: 0,
      maxAge: 300_000,
      recoveryLimit: 1_000,
      rooms: {},
    });
  });

  it('keeps room patterns as given (the policy fills them from the defaults)', () => {
    const rooms = { 'chat:*': { maxAge: 7 } };
    expect(resolveHistoryOptions({ maxCount: 5, rooms })).toMatchObject({ maxCount: 5, rooms });
  });

  it.each([
    [{ maxCount: -1 }, '"history.maxCount": expected a non-negative integer, got -1'],
    [
      { maxAge: 0 },
      '"history.maxAge": expected a positive integer (ms, at most 2147483647), got 0',
    ],
    [{ recoveryLimit: 0 }, '"history.recoveryLimit": expected a positive integer, got 0'],
    [{ rooms: [] }, '"history.rooms": expected an object of room-name patterns, got an array'],
    [
      { q: 1 },
      '"history.q": expected one of the known options (maxCount, maxAge, recoveryLimit, rooms), got 1',
    ],
    [
      { rooms: { 'a*': { maxCount: -1 } } },
      '"history.rooms["a*"].maxCount": expected a non-negative integer, got -1',
    ],
    [
      { rooms: { 'a*': { maxAge: 0 } } },
      '"history.rooms["a*"].maxAge": expected a positive integer (ms, at most 2147483647), got 0',
    ],
    [{ rooms: { 'a*': 3 } }, '"history.rooms["a*"]": expected an object, got 3'],
    [
      { rooms: { 'a*': { x: 1 } } },
      '"history.rooms["a*"].x": expected one of the known options (maxCount, maxAge), got 1',
    ],
    [1, '"history": expected an object, got 1'],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveHistoryOptions(given as never)).toThrowError(error);
  });
});
