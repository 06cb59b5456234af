import { describe, expect, it } from 'vitest';
import { resolvePresenceOptions } from './presence.options.js';

const PINGS = { pingInterval: 25_000, pongTimeout: 10_000 };
const MS = 'a positive integer (ms, at most 2147483647)';

describe('resolvePresenceOptions', () => {
  it('fills every default', () => {
    expect(resolvePresenceOptions(undefined, PINGS)).toEqual({
      heartbeatInterval: 15_000,
      timeout: 45_000,
      cleanupInterval: 1_000,
      offlineDelay: 5_000,
      batchInterval: 100,
      maxMetaBytes: 1_024,
      maxWatchedPerConnection: 1_000,
    });
  });

  it('turns presence off', () => {
    expect(resolvePresenceOptions(false, PINGS)).toBe(false);
  });

  it('takes no offline delay, and a timeout shorter than pings when WebSocket is off', () => {
    expect(resolvePresenceOptions({ offlineDelay: 0 }, PINGS)).toMatchObject({ offlineDelay: 0 });
    expect(resolvePresenceOptions({ timeout: 30_000 }, false)).toMatchObject({ timeout: 30_000 });
  });

  it.each([
    [
      { timeout: 15_000 },
      '"presence.timeout": expected more than presence.heartbeatInterval (15000), got 15000',
    ],
    [
      { timeout: 30_000 },
      '"presence.timeout": expected at least websocket.pingInterval + websocket.pongTimeout (35000), got 30000',
    ],
    [{ heartbeatInterval: 0 }, `"presence.heartbeatInterval": expected ${MS}, got 0`],
    [{ timeout: 0 }, `"presence.timeout": expected ${MS}, got 0`],
    [{ cleanupInterval: 0 }, `"presence.cleanupInterval": expected ${MS}, got 0`],
    [{ batchInterval: 0 }, `"presence.batchInterval": expected ${MS}, got 0`],
    [{ offlineDelay: -1 }, '"presence.offlineDelay": expected a non-negative integer (ms), got -1'],
    [{ maxMetaBytes: 0 }, '"presence.maxMetaBytes": expected a positive integer (bytes), got 0'],
    [
      { maxWatchedPerConnection: 0 },
      '"presence.maxWatchedPerConnection": expected a positive integer, got 0',
    ],
    [
      { q: 0 },
      '"presence.q": expected one of the known options (heartbeatInterval, timeout, cleanupInterval, offlineDelay, batchInterval, maxMetaBytes, maxWatchedPerConnection), got 0',
    ],
    ['x', '"presence": expected an object, got "x"'],
  ])('refuses %j', (given, expected) => {
    const message = `Invalid nest-realtime option ${expected}`;
    const error = expect.objectContaining({ name: 'RealtimeConfigError', message });
    expect(() => resolvePresenceOptions(given as never, PINGS)).toThrowError(error);
  });
});
