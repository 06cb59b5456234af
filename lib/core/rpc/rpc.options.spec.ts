import { describe, expect, it } from 'vitest';
import { resolveRpcOptions } from './rpc.options.js';

describe('resolveRpcOptions', () => {
  it('fills every default', () => {
    expect(resolveRpcOptions(undefined)).toEqual({ timeout: 10_000, maxPendingCalls: 100 });
  });

  it.each([
    [{ timeout: 0 }, '"rpc.timeout": expected a positive integer (ms, at most 2147483647), got 0'],
    [{ maxPendingCalls: 0 }, '"rpc.maxPendingCalls": expected a positive integer, got 0'],
    [{ q: 1 }, '"rpc.q": expected one of the known options (timeout, maxPendingCalls), got 1'],
    [1, '"rpc": expected an object, got 1'],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveRpcOptions(given as never)).toThrowError(error);
  });
});
