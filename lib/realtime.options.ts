// The module's options, composed of each feature's: every group is described,
// defaulted and checked in the options file beside its feature; this file names the
// groups, resolves them in order, and checks what lies between features.

import { resolveAuthenticateHook, type AuthenticateHook } from './core/authenticate.options.js';
import { resolveAuthorizeOptions, type AuthorizeOptions } from './core/authorize.options.js';
import {
  resolveDeliveryOptions,
  type DeliveryOptions,
  type ResolvedDeliveryOptions,
} from './core/delivery/delivery.options.js';
import {
  resolveHistoryOptions,
  type HistoryOptions,
  type ResolvedHistoryOptions,
} from './core/history/history.options.js';
import {
  resolveRateLimitOptions,
  type RateLimitOptions,
  type ResolvedRateLimitOptions,
} from './core/limits/rate-limit.options.js';
import {
  resolvePresenceOptions,
  type PresenceOptions,
  type ResolvedPresenceOptions,
} from './core/presence/presence.options.js';
import {
  resolveRoomOptions,
  type ResolvedRoomOptions,
  type RoomOptions,
} from './core/room.options.js';
import {
  resolveRpcOptions,
  type ResolvedRpcOptions,
  type RpcOptions,
} from './core/rpc/rpc.options.js';
import { resolveEngineOptions, type EngineOptions } from './engines/engine.options.js';
import {
  resolveInspectorOptions,
  type InspectorOptions,
  type ResolvedInspectorOptions,
} from './observability/inspector/inspector.options.js';
import {
  resolveMetricsOptions,
  type MetricsOptions,
  type ResolvedMetricsOptions,
} from './core/metrics/metrics.options.js';
import {
  resolveGrpcOptions,
  type GrpcOptions,
  type ResolvedGrpcOptions,
} from './transports/grpc/grpc.options.js';
import { isPlainObject, ms, RealtimeConfigError } from './options-check.js';
import { resolveOriginPolicy } from './transports/origin.options.js';
import type { OriginPolicy } from './transports/origin-policy.js';
import {
  resolveSseOptions,
  type ResolvedSseOptions,
  type SseOptions,
} from './transports/sse/sse.options.js';
import {
  resolveWebRtcOptions,
  type ResolvedWebRtcOptions,
  type WebRtcOptions,
} from './transports/webrtc/webrtc.options.js';
import {
  resolveWebSocketOptions,
  type ResolvedWebSocketOptions,
  type WebSocketOptions,
} from './transports/websocket/websocket.options.js';

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
  /** Metrics for Prometheus or OpenTelemetry (docs/observability.md); off unless set. */
  metrics?: MetricsOptions;
  /** The live inspector page (docs/observability.md); off unless set, with its own guard. */
  inspector?: InspectorOptions;
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
  readonly websocket: ResolvedWebSocketOptions | false;
  readonly sse: ResolvedSseOptions | false;
  readonly grpc: ResolvedGrpcOptions | undefined;
  readonly webrtc: ResolvedWebRtcOptions | undefined;
  readonly rooms: ResolvedRoomOptions;
  readonly presence: ResolvedPresenceOptions | false;
  readonly history: ResolvedHistoryOptions;
  readonly rpc: ResolvedRpcOptions;
  readonly delivery: ResolvedDeliveryOptions;
  readonly rateLimit: ResolvedRateLimitOptions | false;
  readonly engine: EngineOptions;
  readonly authenticate: AuthenticateHook | undefined;
  readonly authorize: Readonly<AuthorizeOptions>;
  readonly origins: OriginPolicy;
  readonly shutdownTimeout: number;
  readonly metrics: ResolvedMetricsOptions | undefined;
  readonly inspector: ResolvedInspectorOptions | undefined;
}

const KNOWN: readonly (keyof RealtimeModuleOptions)[] = [
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
  'metrics',
  'inspector',
];

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
  for (const [key, value] of Object.entries(given)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      throw new RealtimeConfigError(key, `one of the known options (${KNOWN.join(', ')})`, value);
    }
  }
  const websocket = resolveWebSocketOptions(given.websocket);
  const sse = resolveSseOptions(given.sse, websocket);
  const rooms = resolveRoomOptions(given.rooms);
  const presence = resolvePresenceOptions(given.presence, websocket);
  const history = resolveHistoryOptions(given.history);
  const engine = resolveEngineOptions(given.engine);
  const authenticate = resolveAuthenticateHook(given.authenticate);
  const rpc = resolveRpcOptions(given.rpc);
  const delivery = resolveDeliveryOptions(given.delivery);
  const rateLimit = resolveRateLimitOptions(given.rateLimit, websocket);
  const grpc = resolveGrpcOptions(given.grpc);
  const authorize = resolveAuthorizeOptions(given.authorize);
  const webrtc = resolveWebRtcOptions(given.webrtc);
  if (webrtc && !websocket) {
    throw new RealtimeConfigError(
      'webrtc',
      'the WebSocket transport on (signaling runs over it)',
      given.webrtc,
    );
  }
  const origins = resolveOriginPolicy(given.origins);
  const metrics = resolveMetricsOptions(given.metrics);
  const inspector = resolveInspectorOptions(given.inspector);
  const shutdownTimeout = given.shutdownTimeout ?? 5_000;
  if (!ms[0](shutdownTimeout))
    throw new RealtimeConfigError('shutdownTimeout', ms[1], shutdownTimeout);
  return {
    origins,
    shutdownTimeout,
    metrics,
    inspector,
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
    authenticate,
  };
}
