import { describe, expect, it } from 'vitest';
import { RealtimeConfigError, resolveRealtimeOptions } from './realtime.options.js';

describe('resolveRealtimeOptions', () => {
  it('fills every default', () => {
    const options = resolveRealtimeOptions();
    expect(options.websocket).toMatchObject({
      path: '/ws',
      pingInterval: 25_000,
      pongTimeout: 10_000,
      maxPayload: 1 << 20,
      perMessageDeflate: false,
      maxConnections: Infinity,
    });
    expect(options.rooms).toEqual({ maxPerConnection: 100, maxNameLength: 200 });
    expect(options.engine).toEqual({ type: 'memory' });
  });

  it('keeps what is given and defaults the rest', () => {
    const options = resolveRealtimeOptions({
      websocket: { path: '/live', maxConnections: 5, pongTimeout: undefined },
    });
    expect(options.websocket).toMatchObject({
      path: '/live',
      maxConnections: 5,
      pongTimeout: 10_000,
    });
  });

  it('turns the WebSocket transport off', () => {
    expect(resolveRealtimeOptions({ websocket: false }).websocket).toBe(false);
  });

  it.each([
    [
      { websocket: { pingInterval: -1 } },
      'websocket.pingInterval',
      'a positive integer (ms, at most 2147483647), got -1',
    ],
    [{ websocket: { pongTimeout: 1.5 } }, 'websocket.pongTimeout', 'got 1.5'],
    [{ websocket: { path: 'ws' } }, 'websocket.path', 'got "ws"'],
    [{ websocket: { path: '/a b' } }, 'websocket.path', 'starting with "/"'],
    [{ websocket: { maxConnections: 0 } }, 'websocket.maxConnections', 'Infinity'],
    [{ websocket: { perMessageDeflate: 'yes' } }, 'websocket.perMessageDeflate', 'a boolean'],
    [{ websocket: { pingIntreval: 5 } }, 'websocket.pingIntreval', 'known options'],
    [{ websocket: 'on' }, 'websocket', 'an object'],
    [{ rooms: { maxPerConnection: 0 } }, 'rooms.maxPerConnection', 'positive integer'],
    [
      { engine: { type: 'mongo' } },
      'engine.type',
      'one of "memory", "redis", "custom", got "mongo"',
    ],
    [{ engine: { type: 'redis', url: 'http://x' } }, 'engine.url', 'a redis:// or rediss:// URL'],
    [{ engine: { type: 'redis', shared: 'x' } }, 'engine.shared', 'known options (type, url'],
    [{ engine: 'memory' }, 'engine', 'an object'],
    [{ engine: { type: 'memory', shared: '' } }, 'engine.shared', 'a non-empty string'],
    [{ engine: { type: 'memory', shared: 3 } }, 'engine.shared', 'got 3'],
    [{ engine: { type: 'memory', url: 'x' } }, 'engine.url', 'known options'],
    [{ authenticate: 'x' }, 'authenticate', 'a function'],
    [{ websockets: {} }, 'websockets', 'known options'],
  ])('refuses %j naming %s', (given, option, detail) => {
    let error: unknown;
    try {
      resolveRealtimeOptions(given as never);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(RealtimeConfigError);
    expect((error as RealtimeConfigError).option).toBe(option);
    expect((error as Error).message).toContain(`"${option}"`);
    expect((error as Error).message).toContain(detail);
  });
});
