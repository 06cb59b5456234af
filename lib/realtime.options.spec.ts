import { describe, expect, it } from 'vitest';
import { RealtimeConfigError } from './options-check.js';
import { resolveRealtimeOptions } from './realtime.options.js';

// Each group's defaults and checks are specified beside it (websocket.options.spec.ts,
// presence.options.spec.ts, ...); this is how the root composes them.
describe('resolveRealtimeOptions', () => {
  it("fills every group with its feature's defaults", () => {
    const options = resolveRealtimeOptions();
    expect(options.websocket).toMatchObject({ path: '/ws', pingInterval: 25_000 });
    expect(options.sse).toMatchObject({ path: '/realtime/events' });
    expect(options.rooms).toEqual({ maxPerConnection: 100, maxNameLength: 200 });
    expect(options.presence).toMatchObject({ timeout: 45_000 });
    expect(options.history).toMatchObject({ maxCount: 0 });
    expect(options.rpc).toMatchObject({ timeout: 10_000 });
    expect(options.delivery).toMatchObject({ maxAttempts: 5 });
    expect(options.rateLimit).toMatchObject({ messagesPerSecond: 100 });
    expect(options.engine).toEqual({ type: 'memory' });
    expect(options).toMatchObject({
      grpc: undefined,
      webrtc: undefined,
      authenticate: undefined,
      authorize: {},
      origins: 'same-origin',
      shutdownTimeout: 5_000,
    });
  });

  it('lifts the checks against the WebSocket transport when it is off', () => {
    const options = resolveRealtimeOptions({
      websocket: false,
      sse: { path: '/ws' },
      presence: { timeout: 30_000 },
      rateLimit: { byteBurst: 1_000 },
    });
    expect(options).toMatchObject({ websocket: false, sse: { path: '/ws' } });
  });

  it.each([
    [{ websockets: {} }, 'websockets', 'known options (websocket, rooms, presence'],
    ['on', 'options', 'expected an object, got "on"'],
    [{ websocket: { pingInterval: -1 } }, 'websocket.pingInterval', 'at most 2147483647), got -1'],
    [{ sse: { path: '/ws' } }, 'sse.path', 'another path than websocket.path'],
    [{ websocket: { path: '/x' }, sse: { path: '/x' } }, 'sse.path', 'got "/x"'],
    [{ rooms: { maxPerConnection: 0 } }, 'rooms.maxPerConnection', 'positive integer'],
    [{ presence: { timeout: 30_000 } }, 'presence.timeout', 'websocket.pongTimeout (35000)'],
    [
      { websocket: { pingInterval: 10_000 }, presence: { timeout: 16_000 } },
      'presence.timeout',
      'websocket.pongTimeout (20000), got 16000',
    ],
    [{ history: { rooms: { 'a*': 3 } } }, 'history.rooms["a*"]', 'an object, got 3'],
    [
      { engine: { type: 'mongo' } },
      'engine.type',
      'one of "memory", "redis", "custom", got "mongo"',
    ],
    [{ authenticate: 'x' }, 'authenticate', 'a function'],
    [{ rpc: { timeout: 0 } }, 'rpc.timeout', 'got 0'],
    [{ delivery: { ttl: 0 } }, 'delivery.ttl', 'got 0'],
    [{ rateLimit: { byteBurst: 1_000 } }, 'rateLimit.byteBurst', 'websocket.maxPayload (1048576)'],
    [
      { websocket: { maxPayload: 500 }, rateLimit: { byteBurst: 400 } },
      'rateLimit.byteBurst',
      'websocket.maxPayload (500)',
    ],
    [{ grpc: {} }, 'grpc.url', 'a "host:port" string, got undefined'],
    [{ authorize: { canJoin: 1 } }, 'authorize.canJoin', 'a function'],
    [{ webrtc: 'on' }, 'webrtc', 'an object, or false'],
    [{ origins: 3 }, 'origins', 'or a function, got 3'],
    [{ shutdownTimeout: 1.5 }, 'shutdownTimeout', 'a positive integer (ms, at most 2147483647)'],
    // A key that Object.prototype has is no option either (it was a TypeError).
    [{ websocket: { constructor: 1 } }, 'websocket.constructor', 'known options (path,'],
    [{ engine: { type: 'memory', toString: 1 } }, 'engine.toString', 'known options (type,'],
    [{ sse: JSON.parse('{"__proto__": 1}') }, 'sse.__proto__', 'known options (path,'],
    // The first wrong option is named, in the order the groups are resolved.
    [{ websocket: { pingInterval: -1 }, sse: { path: 'x' } }, 'websocket.pingInterval', 'got -1'],
    [{ rpc: { timeout: 0 }, rooms: { maxPerConnection: 0 } }, 'rooms.maxPerConnection', 'got 0'],
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
