import { describe, expect, it } from 'vitest';
import { resolveSseOptions } from './sse.options.js';

const WS = { path: '/ws' };

describe('resolveSseOptions', () => {
  it('fills every default', () => {
    expect(resolveSseOptions(undefined, WS)).toEqual({
      path: '/realtime/events',
      retry: 3_000,
      keepAliveInterval: 15_000,
      maxConnections: Infinity,
      maxConnectionsPerUser: 20,
      maxBufferedBytes: 4 << 20,
      publish: true,
      maxPayload: 1 << 20,
    });
  });

  it('turns the SSE transport off', () => {
    expect(resolveSseOptions(false, WS)).toBe(false);
  });

  it("takes the WebSocket transport's path when that one is off", () => {
    expect(resolveSseOptions({ path: '/ws' }, false)).toMatchObject({ path: '/ws' });
  });

  it.each([
    [{ path: '/ws' }, '"sse.path": expected another path than websocket.path, got "/ws"'],
    [
      { path: 'x' },
      '"sse.path": expected a path starting with "/" (no spaces, query or fragment), got "x"',
    ],
    [{ retry: 0 }, '"sse.retry": expected a positive integer (ms, at most 2147483647), got 0'],
    [
      { keepAliveInterval: 0 },
      '"sse.keepAliveInterval": expected a positive integer (ms, at most 2147483647), got 0',
    ],
    [{ maxConnections: 0 }, '"sse.maxConnections": expected a positive integer or Infinity, got 0'],
    [
      { maxConnectionsPerUser: 0 },
      '"sse.maxConnectionsPerUser": expected a positive integer or Infinity, got 0',
    ],
    [{ maxBufferedBytes: 0 }, '"sse.maxBufferedBytes": expected a positive integer (bytes), got 0'],
    [{ publish: 1 }, '"sse.publish": expected a boolean, got 1'],
    [
      { z: 1 },
      '"sse.z": expected one of the known options (path, retry, keepAliveInterval, maxConnections, maxConnectionsPerUser, maxBufferedBytes, publish, maxPayload), got 1',
    ],
    [1, '"sse": expected an object, got 1'],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveSseOptions(given as never, WS)).toThrowError(error);
  });
});
