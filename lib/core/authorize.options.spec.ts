import { describe, expect, it } from 'vitest';
import { resolveAuthorizeOptions } from './authorize.options.js';

const canJoin = () => true;

describe('resolveAuthorizeOptions', () => {
  it('has no hook by default: an absent one allows', () => {
    expect(resolveAuthorizeOptions(undefined)).toEqual({});
    expect(resolveAuthorizeOptions({ canJoin })).toEqual({ canJoin });
  });

  it.each([
    [{ canJoin: 1 }, '"authorize.canJoin": expected a function, got 1'],
    [{ canPublish: 1 }, '"authorize.canPublish": expected a function, got 1'],
    [{ canSignal: 1 }, '"authorize.canSignal": expected a function, got 1'],
    [
      { q: 1 },
      '"authorize.q": expected one of the known options (canJoin, canPublish, canSignal), got 1',
    ],
    [1, '"authorize": expected an object, got 1'],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveAuthorizeOptions(given as never)).toThrowError(error);
  });
});
