import type { IncomingMessage } from 'node:http';
import type { RealtimePrincipal } from './core/realtime-connection.js';
import type { RealtimeEngine } from './engines/realtime-engine.interface.js';
import { isPlainObject, RealtimeConfigError, resolveGroup, type Check } from './options-check.js';
import { MAX_TIMER_DELAY } from './protocol/index.js';
import {
  resolveWebRtcOptions,
  type ResolvedWebRtcOptions,
  type WebRtcOptions,
} from './transports/webrtc/webrtc.options.js';

import type { OriginPolicy } from './transports/origin-policy.js';

export { RealtimeConfigError } from './options-check.js';

/** An origin the allow-list may name: a scheme, a host (maybe `*.`-prefixed), a port. */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/(\*\.)?[a-z0-9.-]+(:\d+)?$/i;

function isOriginPolicy(value: unknown): value is OriginPolicy {
  return (
    value === 'same-origin' ||
    value === '*' ||
    typeof value === 'function' ||
    (Array.isArray(value) &&
      value.every((origin) => typeof origin === 'string' && ORIGIN.test(origin)))
  );
}

/**
 * Decides who may connect, from the HTTP request (headers, cookies, query).
 * Return a principal to accept; return `null`/`undefined`/`false` to refuse with 401;
 * throw an `HttpException` (e.g. `ForbiddenException`) to refuse with its status.
 * Any other error refuses with 500 and is logged.
 *
 * @example
 * ```ts
 * authenticate: async (req) => {
 *   const token = new URL(req.url ?? '', 'http://x').searchParams.get('token');
 *   return token ? { userId: await users.idForToken(token) } : null;
 * }
 * ```
 */
export type AuthenticateHook = (
  request: IncomingMessage,
) =>
  | RealtimePrincipal
  | null
  | undefined
  | false
  | Promise<RealtimePrincipal | null | undefined | false>;

/**
 * Decides whether a client may join a room (`rt:join`, an SSE stream's rooms), or
 * publish to one (`rt:publish`, the SSE publish endpoint). Server code (`hub.join`,
 * `hub.to(room).emit`) is trusted and not asked. A hook that returns false refuses
 * (FORBIDDEN, or 403 over HTTP); one that throws refuses with INTERNAL_ERROR (logged).
 *
 * @example
 * ```ts
 * authorize: {
 *   canJoin: (principal, room) => !room.startsWith('admin:') || principal.role === 'admin',
 *   canPublish: (principal, room, { event }) => event !== 'announcement' || principal.role === 'admin',
 * }
 * ```
 */
export interface AuthorizeOptions {
  canJoin?: (principal: RealtimePrincipal, room: string) => boolean | Promise<boolean>;
  canPublish?: (
    principal: RealtimePrincipal,
    room: string,
    message: { readonly event: string; readonly data: unknown },
  ) => boolean | Promise<boolean>;
  /** Asked before a WebRTC signal from one peer of `room` is passed to another. */
  canSignal?: (
    from: RealtimePrincipal,
    to: { readonly connectionId: string; readonly userId?: string },
    room: string,
  ) => boolean | Promise<boolean>;
}

/**
 * The Server-Sent Events transport: a stream of rooms' messages at `path` (GET),
 * with resume by `Last-Event-ID`, and a publish endpoint at `path + '/publish'`
 * (POST). It shares the application's HTTP server (Express).
 *
 * @example
 * ```ts
 * sse: { path: '/realtime/events', keepAliveInterval: 15_000, maxConnectionsPerUser: 5 }
 * ```
 */
export interface SseOptions {
  /** Where streams are served. Default `/realtime/events`. */
  path?: string;
  /** The `retry:` a stream starts with: ms a client waits before reconnecting. Default 3000. */
  retry?: number;
  /** ms between keep-alive comments, so that proxies keep quiet streams open. Default 15000. */
  keepAliveInterval?: number;
  /** SSE streams this node serves at once; more are refused with 503. Default Infinity. */
  maxConnections?: number;
  /** SSE streams of one user on this node; more are refused with 429. Default 20. */
  maxConnectionsPerUser?: number;
  /** Bytes that may wait unsent to one stream; past it the stream is closed. Default 4 MiB. */
  maxBufferedBytes?: number;
  /** Whether `POST <path>/publish` is served. Default true. */
  publish?: boolean;
}

/**
 * The gRPC API (`nest-realtime/grpc`, docs/grpc.md): a gRPC server beside the HTTP
 * one, started by `connectRealtimeGrpc(app)` on a hybrid app.
 *
 * @example
 * ```ts
 * grpc: { url: '0.0.0.0:50051' }
 * ```
 */
export interface GrpcOptions {
  /** Where the gRPC server listens, `host:port`. Required. */
  url: string;
  /** Bytes that may wait unsent to one gRPC stream; past it the stream ends. Default 4 MiB. */
  maxBufferedBytes?: number;
}

/**
 * The WebSocket transport. It shares the application's HTTP port.
 *
 * @example
 * ```ts
 * websocket: { path: '/ws', pingInterval: 25_000, pongTimeout: 10_000, maxPayload: 1 << 20 }
 * ```
 */
export interface WebSocketOptions {
  /** Where clients connect. Must start with `/`. Default `/ws`. */
  path?: string;
  /** How often the server pings each client, in ms. Default 25000. */
  pingInterval?: number;
  /** How long a ping may go unanswered before the connection is terminated, in ms. Default 10000. */
  pongTimeout?: number;
  /** Largest accepted frame, in bytes; larger closes with 1009. Default 1 MiB. */
  maxPayload?: number;
  /** Enables permessage-deflate (compression). Default false: it costs CPU and memory per socket. */
  perMessageDeflate?: boolean;
  /** Connections this node accepts; more are closed with 1013. Default unlimited. */
  maxConnections?: number;
  /** Connections one user may hold on this node; more are closed with 4001. Default unlimited. */
  maxConnectionsPerUser?: number;
  /** Bytes that may wait unsent for one client before it is closed with 4002. Default 4 MiB. */
  maxBufferedBytes?: number;
  /** Frames of one client handled at once; past it the server stops reading that socket. Default 32. */
  maxPendingRequests?: number;
  /** On shutdown, how long clients get to acknowledge the close before they are cut, in ms. Default 1000. */
  closeTimeout?: number;
  /** How long `authenticate` may take before the handshake is refused with 503, in ms. Default 10000. */
  handshakeTimeout?: number;
}

/**
 * Rules for rooms, whatever the transport.
 *
 * @example
 * ```ts
 * rooms: { maxPerConnection: 50, maxNameLength: 100 }
 * ```
 */
export interface RoomOptions {
  /** Rooms one connection may be in at once. Default 100. */
  maxPerConnection?: number;
  /** Longest room name, in characters. Default 200. */
  maxNameLength?: number;
}

/**
 * Presence: user statuses, room members, watchers.
 *
 * @example
 * ```ts
 * presence: { offlineDelay: 3_000, batchInterval: 100, maxMetaBytes: 512 }
 * ```
 */
export interface PresenceOptions {
  /** How often a node refreshes the presence of its live connections, in ms. Default 15000. */
  heartbeatInterval?: number;
  /**
   * After how long without a refresh a connection counts as dead, in ms (a node that
   * died). It must exceed `heartbeatInterval` and `websocket.pingInterval +
   * websocket.pongTimeout`. Default 45000.
   */
  timeout?: number;
  /** How often expired connections and offline users are swept, in ms. Default 1000. */
  cleanupInterval?: number;
  /** How long a user stays present after their last connection went, in ms. Default 5000. */
  offlineDelay?: number;
  /** Room presence changes are gathered for this long, then sent as one diff, in ms. Default 100. */
  batchInterval?: number;
  /** Largest status metadata, in bytes of JSON. Default 1024. */
  maxMetaBytes?: number;
  /** Users one connection may watch at once. Default 1000. */
  maxWatchedPerConnection?: number;
}

/**
 * Room history, for recovery. Off by default (`maxCount: 0`): every room message
 * still gets an offset and an epoch, but none is kept. Patterns turn it on where
 * it is wanted; `*` matches any run of characters.
 *
 * @example
 * ```ts
 * history: { rooms: { 'chat:*': { maxCount: 200, maxAge: 600_000 }, 'ticker': { maxCount: 1 } } }
 * ```
 */
export interface HistoryOptions {
  /** Messages kept per room, unless a pattern says otherwise. Default 0 (none). */
  maxCount?: number;
  /** How long a kept message stays, in ms, unless a pattern says otherwise. Default 300000. */
  maxAge?: number;
  /** Most messages one recovery may replay; more is `recovered: false`. Default 1000. */
  recoveryLimit?: number;
  /** Per room-name pattern, checked in order; the first match wins. */
  rooms?: Record<string, { maxCount?: number; maxAge?: number }>;
}

/**
 * Per-connection rate limits on what clients send, built-in events and the app's
 * handlers alike: token buckets of frames and of bytes. A frame over the limit is
 * dropped unread (the first of a run gets a `RATE_LIMITED` error frame); after
 * `maxRefused` drops in a row the connection is closed with 4003.
 *
 * @example
 * ```ts
 * rateLimit: { messagesPerSecond: 20, messageBurst: 40 }
 * ```
 */
export interface RateLimitOptions {
  /** Frames a second, over time. Default 100. */
  messagesPerSecond?: number;
  /** Frames at once. Default 200. */
  messageBurst?: number;
  /** Bytes a second, over time. Default 1 MiB. */
  bytesPerSecond?: number;
  /** Bytes at once; at least `websocket.maxPayload`. Default 2 MiB. */
  byteBurst?: number;
  /** Frames dropped in a row before the connection is closed. Default 100. */
  maxRefused?: number;
}

/**
 * Acknowledged delivery (`DeliveryService`).
 *
 * @example
 * ```ts
 * delivery: { ackTimeout: 2_000, maxAttempts: 8, ttl: 600_000 }
 * ```
 */
export interface DeliveryOptions {
  /** Wait before the first resend, in ms; it doubles each time. Default 1000. */
  ackTimeout?: number;
  /** The longest wait between sends, in ms. Default 30000. */
  maxBackoff?: number;
  /** Sends before a message is given up on. Default 5. */
  maxAttempts?: number;
  /** How long a message is tried, in ms. Default 60000. */
  ttl?: number;
  /** Messages that may wait for one user's acknowledgement. Default 100. */
  maxPendingPerUser?: number;
}

/**
 * RPC, both ways.
 *
 * @example
 * ```ts
 * rpc: { timeout: 5_000, maxPendingCalls: 20 }
 * ```
 */
export interface RpcOptions {
  /** How long a call may wait for its answer, either way, in ms. Default 10000. */
  timeout?: number;
  /** Server-to-client calls one connection may have waiting. Default 100. */
  maxPendingCalls?: number;
}

/**
 * Which engine connects the nodes. `memory` (the default) keeps everything in this
 * process; with `shared`, every app of this process that names the same store is a
 * node of one cluster (tests and demos of several nodes without Redis). `redis` runs
 * many nodes on one Redis (ioredis, an optional peer dependency): `url`, ioredis
 * options in `redis`, or ioredis clients of your own (`client`, `subscriber`: see
 * `RedisEngineOptions`), a `prefix` for its keys and channels (default `rt:`), and
 * `shardedPubSub` (`'auto'`: sharded pub/sub where the server is Redis 7 or later).
 * `custom` runs on an engine of your own (a {@link RealtimeEngine}: see docs/engines.md),
 * which the module starts and closes with the app.
 *
 * @example
 * ```ts
 * engine: { type: 'memory' }
 * engine: { type: 'memory', shared: 'cluster-a' }
 * engine: { type: 'redis', url: 'redis://redis:6379', prefix: 'chat:' }
 * engine: { type: 'redis', client: new Redis(url, { enableOfflineQueue: false }) }
 * engine: { type: 'custom', engine: new MyEngine() }
 * ```
 */
export type EngineOptions =
  | { type: 'memory'; shared?: string }
  | {
      type: 'redis';
      url?: string;
      prefix?: string;
      redis?: Record<string, unknown>;
      /** An ioredis `Redis` client (typed loosely: ioredis is an optional dependency). */
      client?: object;
      /** An ioredis `Redis` client to subscribe on. */
      subscriber?: object;
      shardedPubSub?: boolean | 'auto';
    }
  | { type: 'custom'; engine: RealtimeEngine };

/**
 * Everything `RealtimeModule.forRoot` takes. Every field is optional; defaults are
 * listed on each. Options are checked once, at start-up: a wrong one stops the app
 * with a message naming it.
 *
 * @example
 * ```ts
 * RealtimeModule.forRoot({
 *   websocket: { path: '/ws', maxConnectionsPerUser: 5 },
 *   rooms: { maxPerConnection: 20 },
 *   authenticate: (req) => ({ userId: String(req.headers['x-user']) }),
 * })
 * ```
 */
export interface RealtimeModuleOptions {
  /** The WebSocket transport, or `false` to turn it off. */
  websocket?: WebSocketOptions | false;
  /** The Server-Sent Events transport, or `false` to turn it off. */
  sse?: SseOptions | false;
  /** The gRPC API; off unless set (see `connectRealtimeGrpc`). */
  grpc?: GrpcOptions;
  /** WebRTC signaling, ICE/TURN and server peers (docs/webrtc.md); off unless set. */
  webrtc?: WebRtcOptions | false;
  rooms?: RoomOptions;
  /** Presence, or `false` to turn it off. */
  presence?: PresenceOptions | false;
  history?: HistoryOptions;
  rpc?: RpcOptions;
  delivery?: DeliveryOptions;
  /** Rate limits on clients, or `false` for none. */
  rateLimit?: RateLimitOptions | false;
  engine?: EngineOptions;
  /** Runs once per connection, before it is accepted. Without it every client is anonymous. */
  authenticate?: AuthenticateHook;
  /** Who may join and publish to which rooms. Without it, anyone who connected may. */
  authorize?: AuthorizeOptions;
  /**
   * Which web pages may open a WebSocket or an SSE stream (`Origin`). Default
   * `'same-origin'`; `'*'` for any; a list; a function. See {@link OriginPolicy}.
   */
  origins?: OriginPolicy;
  /**
   * At shutdown, how long the node waits for the engine to take its connections out
   * of rooms and presence before it closes anyway (logged), in ms. Default 5000.
   */
  shutdownTimeout?: number;
}

/**
 * The options after defaults and checks, as the rest of the library reads them.
 *
 * @example
 * ```ts
 * const { rooms } = moduleRef.get<ResolvedRealtimeOptions>(REALTIME_OPTIONS);
 * ```
 */
export interface ResolvedRealtimeOptions {
  readonly websocket: Readonly<Required<WebSocketOptions>> | false;
  readonly sse: Readonly<Required<SseOptions>> | false;
  readonly grpc: Readonly<Required<GrpcOptions>> | undefined;
  readonly webrtc: ResolvedWebRtcOptions | undefined;
  readonly rooms: Readonly<Required<RoomOptions>>;
  readonly presence: Readonly<Required<PresenceOptions>> | false;
  readonly history: Readonly<Required<HistoryOptions>>;
  readonly rpc: Readonly<Required<RpcOptions>>;
  readonly delivery: Readonly<Required<DeliveryOptions>>;
  readonly rateLimit: Readonly<Required<RateLimitOptions>> | false;
  readonly engine: EngineOptions;
  readonly authenticate: AuthenticateHook | undefined;
  readonly authorize: Readonly<AuthorizeOptions>;
  readonly origins: OriginPolicy;
  readonly shutdownTimeout: number;
}

const WEBSOCKET_DEFAULTS: Required<WebSocketOptions> = {
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
};

const SSE_DEFAULTS: Required<SseOptions> = {
  path: '/realtime/events',
  retry: 3_000,
  keepAliveInterval: 15_000,
  maxConnections: Infinity,
  maxConnectionsPerUser: 20,
  maxBufferedBytes: 4 << 20,
  publish: true,
};

const ROOM_DEFAULTS: Required<RoomOptions> = { maxPerConnection: 100, maxNameLength: 200 };

const PRESENCE_DEFAULTS: Required<PresenceOptions> = {
  heartbeatInterval: 15_000,
  timeout: 45_000,
  cleanupInterval: 1_000,
  offlineDelay: 5_000,
  batchInterval: 100,
  maxMetaBytes: 1_024,
  maxWatchedPerConnection: 1_000,
};

const HISTORY_DEFAULTS: Required<HistoryOptions> = {
  maxCount: 0,
  maxAge: 300_000,
  recoveryLimit: 1_000,
  rooms: {},
};

const RPC_DEFAULTS: Required<RpcOptions> = { timeout: 10_000, maxPendingCalls: 100 };

const DELIVERY_DEFAULTS: Required<DeliveryOptions> = {
  ackTimeout: 1_000,
  maxBackoff: 30_000,
  maxAttempts: 5,
  ttl: 60_000,
  maxPendingPerUser: 100,
};

const RATE_LIMIT_DEFAULTS: Required<RateLimitOptions> = {
  messagesPerSecond: 100,
  messageBurst: 200,
  bytesPerSecond: 1 << 20,
  byteBurst: 2 << 20,
  maxRefused: 100,
};

const ENGINE_TYPES = ['memory', 'redis', 'custom'] as const;

/** What the Redis engine needs of a client it is given (an ioredis `Redis`). */
function isRedisClient(value: unknown): boolean {
  const client = value as Record<string, unknown> | null;
  return (
    typeof client === 'object' &&
    client !== null &&
    typeof client.duplicate === 'function' &&
    typeof client.evalsha === 'function' &&
    typeof client.status === 'string'
  );
}
/** The options of each engine, and their checks. */
const ENGINE_CHECKS: Record<string, Record<string, [Check, string]>> = {
  memory: { shared: [(v) => typeof v === 'string' && v !== '', 'a non-empty string'] },
  redis: {
    url: [(v) => typeof v === 'string' && /^rediss?:\/\//.test(v), 'a redis:// or rediss:// URL'],
    prefix: [(v) => typeof v === 'string', 'a string'],
    redis: [(v) => isPlainObject(v), 'an object (ioredis options)'],
    client: [isRedisClient, 'an ioredis client'],
    subscriber: [isRedisClient, 'an ioredis client'],
    shardedPubSub: [(v) => typeof v === 'boolean' || v === 'auto', "true, false or 'auto'"],
  },
  custom: {
    engine: [isEngine, 'a RealtimeEngine (broker, rooms, presence, controller, start, close)'],
  },
};

/** What a custom engine must have: its four parts, start and close (checked shallowly). */
function isEngine(value: unknown): boolean {
  const engine = value as Record<string, unknown> | null;
  return (
    typeof engine === 'object' &&
    engine !== null &&
    typeof engine.start === 'function' &&
    typeof engine.close === 'function' &&
    ['broker', 'rooms', 'presence', 'controller'].every(
      (part) => typeof engine[part] === 'object' && engine[part] !== null,
    )
  );
}

const positiveInteger: [Check, string] = [
  (v) => Number.isSafeInteger(v) && (v as number) > 0,
  'a positive integer',
];
const limit: [Check, string] = [
  (v) => v === Infinity || (Number.isSafeInteger(v) && (v as number) > 0),
  'a positive integer or Infinity',
];
const boolean: [Check, string] = [(v) => typeof v === 'boolean', 'a boolean'];
const path: [Check, string] = [
  (v) => typeof v === 'string' && /^\/[^\s?#]*$/.test(v),
  'a path starting with "/" (no spaces, query or fragment)',
];

const ms: [Check, string] = [
  (v) => positiveInteger[0](v) && (v as number) <= MAX_TIMER_DELAY,
  `a positive integer (ms, at most ${MAX_TIMER_DELAY})`,
];
const msOrZero: [Check, string] = [
  (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  'a non-negative integer (ms)',
];
const bytes: [Check, string] = [positiveInteger[0], 'a positive integer (bytes)'];

const WEBSOCKET_CHECKS: Record<keyof WebSocketOptions, [Check, string]> = {
  path,
  pingInterval: ms,
  pongTimeout: ms,
  maxPayload: bytes,
  perMessageDeflate: boolean,
  maxConnections: limit,
  maxConnectionsPerUser: limit,
  maxBufferedBytes: bytes,
  maxPendingRequests: positiveInteger,
  closeTimeout: ms,
  handshakeTimeout: ms,
};

const SSE_CHECKS: Record<keyof SseOptions, [Check, string]> = {
  path,
  retry: ms,
  keepAliveInterval: ms,
  maxConnections: limit,
  maxConnectionsPerUser: limit,
  maxBufferedBytes: bytes,
  publish: boolean,
};
const GRPC_CHECKS: Record<keyof GrpcOptions, [Check, string]> = {
  url: [(v) => typeof v === 'string' && /^[^\s]+:\d{1,5}$/.test(v), 'a "host:port" string'],
  maxBufferedBytes: bytes,
};
const AUTHORIZE_CHECKS: Record<keyof AuthorizeOptions, [Check, string]> = {
  canJoin: [(v) => typeof v === 'function', 'a function'],
  canPublish: [(v) => typeof v === 'function', 'a function'],
  canSignal: [(v) => typeof v === 'function', 'a function'],
};
const PRESENCE_CHECKS: Record<keyof PresenceOptions, [Check, string]> = {
  heartbeatInterval: ms,
  timeout: ms,
  cleanupInterval: ms,
  offlineDelay: msOrZero,
  batchInterval: ms,
  maxMetaBytes: bytes,
  maxWatchedPerConnection: positiveInteger,
};

const count: [Check, string] = [
  (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  'a non-negative integer',
];
const RETENTION_CHECKS: Record<'maxCount' | 'maxAge', [Check, string]> = {
  maxCount: count,
  maxAge: ms,
};
const HISTORY_CHECKS: Record<keyof HistoryOptions, [Check, string]> = {
  ...RETENTION_CHECKS,
  recoveryLimit: positiveInteger,
  rooms: [isPlainObject, 'an object of room-name patterns'],
};

const RATE_LIMIT_CHECKS: Record<keyof RateLimitOptions, [Check, string]> = {
  messagesPerSecond: positiveInteger,
  messageBurst: positiveInteger,
  bytesPerSecond: bytes,
  byteBurst: bytes,
  maxRefused: positiveInteger,
};

const DELIVERY_CHECKS: Record<keyof DeliveryOptions, [Check, string]> = {
  ackTimeout: ms,
  maxBackoff: ms,
  maxAttempts: positiveInteger,
  ttl: ms,
  maxPendingPerUser: positiveInteger,
};

const RPC_CHECKS: Record<keyof RpcOptions, [Check, string]> = {
  timeout: ms,
  maxPendingCalls: positiveInteger,
};

const ROOM_CHECKS: Record<keyof RoomOptions, [Check, string]> = {
  maxPerConnection: positiveInteger,
  maxNameLength: positiveInteger,
};

/**
 * Applies defaults and checks every option, once, at start-up.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * const options = resolveRealtimeOptions({ websocket: { path: '/live' } });
 * options.websocket && options.websocket.pingInterval; // 25000
 * ```
 */
export function resolveRealtimeOptions(given: RealtimeModuleOptions = {}): ResolvedRealtimeOptions {
  if (!isPlainObject(given as unknown)) {
    throw new RealtimeConfigError('options', 'an object', given);
  }
  const known = [
    'websocket',
    'rooms',
    'presence',
    'history',
    'rpc',
    'delivery',
    'rateLimit',
    'engine',
    'authenticate',
    'sse',
    'authorize',
    'grpc',
    'webrtc',
    'origins',
    'shutdownTimeout',
  ];
  for (const [key, value] of Object.entries(given)) {
    if (!known.includes(key)) {
      throw new RealtimeConfigError(key, `one of the known options (${known.join(', ')})`, value);
    }
  }
  const websocket =
    given.websocket === false
      ? false
      : resolveGroup('websocket', given.websocket, WEBSOCKET_CHECKS, WEBSOCKET_DEFAULTS);
  const sse =
    given.sse === false ? false : resolveGroup('sse', given.sse, SSE_CHECKS, SSE_DEFAULTS);
  if (sse && websocket && sse.path === websocket.path) {
    throw new RealtimeConfigError('sse.path', `another path than websocket.path`, sse.path);
  }
  const rooms = resolveGroup('rooms', given.rooms, ROOM_CHECKS, ROOM_DEFAULTS);
  const presence =
    given.presence === false
      ? false
      : resolveGroup('presence', given.presence, PRESENCE_CHECKS, PRESENCE_DEFAULTS);
  if (presence) checkPresenceTimeout(presence, websocket);
  const history = resolveGroup('history', given.history, HISTORY_CHECKS, HISTORY_DEFAULTS);
  for (const [pattern, retention] of Object.entries(history.rooms)) {
    resolveGroup(`history.rooms["${pattern}"]`, retention, RETENTION_CHECKS, {
      maxCount: history.maxCount,
      maxAge: history.maxAge,
    });
  }

  const engine = given.engine ?? { type: 'memory' };
  if (!isPlainObject(engine as unknown))
    throw new RealtimeConfigError('engine', 'an object', engine);
  if (!(ENGINE_TYPES as readonly unknown[]).includes(engine.type)) {
    const types = ENGINE_TYPES.map((t) => `"${t}"`).join(', ');
    throw new RealtimeConfigError('engine.type', `one of ${types}`, engine.type);
  }
  const checks = ENGINE_CHECKS[engine.type]!;
  for (const [key, value] of Object.entries(engine)) {
    if (key === 'type') continue;
    const check = checks[key];
    if (!check) {
      const names = ['type', ...Object.keys(checks)].join(', ');
      throw new RealtimeConfigError(`engine.${key}`, `one of the known options (${names})`, value);
    }
    if (!check[0](value)) throw new RealtimeConfigError(`engine.${key}`, check[1], value);
  }
  if (engine.type === 'custom' && engine.engine === undefined) {
    throw new RealtimeConfigError('engine.engine', checks.engine![1], undefined);
  }

  if (given.authenticate !== undefined && typeof given.authenticate !== 'function') {
    throw new RealtimeConfigError('authenticate', 'a function', given.authenticate);
  }
  const rpc = resolveGroup('rpc', given.rpc, RPC_CHECKS, RPC_DEFAULTS);
  const delivery = resolveGroup('delivery', given.delivery, DELIVERY_CHECKS, DELIVERY_DEFAULTS);
  const rateLimit =
    given.rateLimit === false
      ? false
      : resolveGroup('rateLimit', given.rateLimit, RATE_LIMIT_CHECKS, RATE_LIMIT_DEFAULTS);
  if (rateLimit && websocket && rateLimit.byteBurst < websocket.maxPayload) {
    throw new RealtimeConfigError(
      'rateLimit.byteBurst',
      `at least websocket.maxPayload (${websocket.maxPayload}), or the largest frame could never pass`,
      rateLimit.byteBurst,
    );
  }
  let grpc: Required<GrpcOptions> | undefined;
  if (given.grpc !== undefined) {
    grpc = resolveGroup('grpc', given.grpc, GRPC_CHECKS, {
      url: '',
      maxBufferedBytes: 4 << 20,
    });
    if (grpc.url === '')
      throw new RealtimeConfigError('grpc.url', 'a "host:port" string', undefined);
  }
  // Hooks have no defaults: an absent one allows.
  const noHooks = {} as Required<AuthorizeOptions>;
  const authorize = resolveGroup('authorize', given.authorize, AUTHORIZE_CHECKS, noHooks);
  const webrtc = resolveWebRtcOptions(given.webrtc);
  if (webrtc && !websocket) {
    throw new RealtimeConfigError(
      'webrtc',
      'the WebSocket transport on (signaling runs over it)',
      given.webrtc,
    );
  }
  const origins = given.origins ?? 'same-origin';
  if (!isOriginPolicy(origins)) {
    throw new RealtimeConfigError(
      'origins',
      '\'same-origin\', \'*\', a list of origins ("https://app.example.com", "https://*.example.com") or a function',
      origins,
    );
  }
  const shutdownTimeout = given.shutdownTimeout ?? 5_000;
  if (!ms[0](shutdownTimeout))
    throw new RealtimeConfigError('shutdownTimeout', ms[1], shutdownTimeout);
  return {
    origins,
    shutdownTimeout,
    websocket,
    sse,
    grpc,
    webrtc,
    authorize,
    rooms,
    presence,
    history,
    rpc,
    delivery,
    rateLimit,
    engine,
    authenticate: given.authenticate,
  };
}

/** A live connection must be refreshed, and a dead socket found, before presence gives up on it. */
function checkPresenceTimeout(
  presence: Required<PresenceOptions>,
  websocket: Required<WebSocketOptions> | false,
): void {
  const { timeout, heartbeatInterval } = presence;
  if (timeout <= heartbeatInterval) {
    throw new RealtimeConfigError(
      'presence.timeout',
      `more than presence.heartbeatInterval (${heartbeatInterval})`,
      timeout,
    );
  }
  if (websocket && timeout < websocket.pingInterval + websocket.pongTimeout) {
    const detection = websocket.pingInterval + websocket.pongTimeout;
    throw new RealtimeConfigError(
      'presence.timeout',
      `at least websocket.pingInterval + websocket.pongTimeout (${detection})`,
      timeout,
    );
  }
}
