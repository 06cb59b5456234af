import {
  boolean,
  bytes,
  limit,
  ms,
  path,
  positiveInteger,
  resolveGroup,
  type Rule,
} from '../../options-check.js';

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
 * The WebSocket options after defaults and checks.
 *
 * @example
 * ```ts
 * const options: ResolvedWebSocketOptions | false = resolveWebSocketOptions({ path: '/live' });
 * ```
 */
export type ResolvedWebSocketOptions = Readonly<Required<WebSocketOptions>>;

/**
 * What the WebSocket transport does unless told otherwise.
 *
 * @example
 * ```ts
 * WEBSOCKET_DEFAULTS.path; // '/ws'
 * ```
 */
export const WEBSOCKET_DEFAULTS: ResolvedWebSocketOptions = {
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

const RULES: Record<keyof WebSocketOptions, Rule> = {
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

/**
 * The `websocket` options with defaults, checked; false when the transport is off.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolveWebSocketOptions({ path: '/live' }); // { path: '/live', pingInterval: 25000, ... }
 * resolveWebSocketOptions(false); // false
 * ```
 */
export function resolveWebSocketOptions(
  given: WebSocketOptions | false | undefined,
): ResolvedWebSocketOptions | false {
  if (given === false) return false;
  return resolveGroup('websocket', given, RULES, WEBSOCKET_DEFAULTS);
}
