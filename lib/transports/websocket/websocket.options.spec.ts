import { describe, expect, it } from 'vitest';
import { resolveWebSocketOptions } from './websocket.options.js';

const MS = 'a positive integer (ms, at most 2147483647)';

describe('resolveWebSocketOptions', () => {
  it('fills every default', () => {
    expect(resolveWebSocketOptions(undefined)).toEqual({
      path: '/ws',
      pingInterval: 25_000,
      pongTimeout: 10_000,
      maxPayload: 1 << 20,
      perMessageDeflate: false,
      maxConnections: Infinity,
      maxConnectionsPerUser: Infinity,
      maxBufferedBytes: 4 << 20,
      maxPendingRequests: 32,
      closeTimeout: 1_000,
      handshakeTimeout: 10_000,
    });
  });

  it('keeps what is given and defaults the rest, undefined included', () => {
    expect(
      resolveWebSocketOptions({ path: '/live', maxConnections: 5, pongTimeout: undefined }),
    ).toMatchObject({ path: '/live', maxConnections: 5, pongTimeout: 10_000 });
  });

  it('turns the WebSocket transport off', () => {
    expect(resolveWebSocketOptions(false)).toBe(false);
  });

  it.each([
    [{ pingInterval: -1 }, `"websocket.pingInterval": expected ${MS}, got -1`],
    [{ pingInterval: 2 ** 31 }, `"websocket.pingInterval": expected ${MS}, got 2147483648`],
    [{ pongTimeout: 1.5 }, `"websocket.pongTimeout": expected ${MS}, got 1.5`],
    [{ closeTimeout: 0 }, `"websocket.closeTimeout": expected ${MS}, got 0`],
    [{ handshakeTimeout: 0 }, `"websocket.handshakeTimeout": expected ${MS}, got 0`],
    [
      { path: 'ws' },
      '"websocket.path": expected a path starting with "/" (no spaces, query or fragment), got "ws"',
    ],
    [
      { path: '/a b' },
      '"websocket.path": expected a path starting with "/" (no spaces, query or fragment), got "/a b"',
    ],
    [
      { maxConnections: 0 },
      '"websocket.maxConnections": expected a positive integer or Infinity, got 0',
    ],
    [
      { maxConnectionsPerUser: -1 },
      '"websocket.maxConnectionsPerUser": expected a positive integer or Infinity, got -1',
    ],
    [{ maxPayload: 0 }, '"websocket.maxPayload": expected a positive integer (bytes), got 0'],
    [
      { maxBufferedBytes: 'x' },
      '"websocket.maxBufferedBytes": expected a positive integer (bytes), got "x"',
    ],
    [
      { maxPendingRequests: 0 },
      '"websocket.maxPendingRequests": expected a positive integer, got 0',
    ],
    [{ perMessageDeflate: 'yes' }, '"websocket.perMessageDeflate": expected a boolean, got "yes"'],
    [
      { pingIntreval: 5 },
      '"websocket.pingIntreval": expected one of the known options (path, pingInterval, pongTimeout, maxPayload, perMessageDeflate, maxConnections, maxConnectionsPerUser, maxBufferedBytes, maxPendingRequests, closeTimeout, handshakeTimeout), got 5',
    ],
    ['on', '"websocket": expected an object, got "on"'],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolveWebSocketOptions(given as never)).toThrowError(error);
  });
});
