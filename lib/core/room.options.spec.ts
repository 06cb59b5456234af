import { describe, expect, it } from 'vitest';
import { resolveRoomOptions } from './room.options.js';

describe('resolveRoomOptions', () => {
  it('fills every default', () => {
    expect(resolveRoomOptions(undefined)).toEqual({ maxPerConnection: 100, maxNameLength: 200 });
  });

  it.each([
    [{ maxPerConnection: 0 }, '"rooms.maxPerConnection": expected a positive integer, got 0'],
    [{ maxNameLength: 1.2 }, '"rooms.maxNameLength": expected a positive integer, got 1.2'],
    [
      { q: 1 },
      '"rooms.q": expected one of the known options (maxPerConnection, maxNameLength), got 1',
    ],
    [1, '"rooms": expected an object, got 1'],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveRoomOptions(given as never)).toThrowError(error);
  });
});
