/**
 * Stable error codes carried by error frames and error replies. The list in
 * docs/protocol.md is the contract: a code, once published, keeps its meaning.
 *
 * @example
 * ```ts
 * if (reply.error?.code === ErrorCode.RoomLimitReached) showToast('Too many rooms');
 * ```
 */
export const ErrorCode = {
  /** The frame is not a JSON object of the documented shape. */
  BadFrame: 'BAD_FRAME',
  /** No built-in event and no `@SubscribeMessage` handler has this name. */
  UnknownEvent: 'UNKNOWN_EVENT',
  /** The event is known but its `data` has missing or wrongly typed fields. */
  InvalidData: 'INVALID_DATA',
  /** A room name is empty, too long, or contains control characters. */
  RoomNameInvalid: 'ROOM_NAME_INVALID',
  /** The connection is already in as many rooms as `rooms.maxPerConnection` allows. */
  RoomLimitReached: 'ROOM_LIMIT_REACHED',
  /** The operation needs the connection to be a member of the room. */
  NotInRoom: 'NOT_IN_ROOM',
  /** The room does not exist. */
  RoomNotFound: 'ROOM_NOT_FOUND',
  /** The operation needs an authenticated user (a `userId`), and the connection has none. */
  NotAuthenticated: 'NOT_AUTHENTICATED',
  /** The operation concerns another user than the connection's own. */
  Forbidden: 'FORBIDDEN',
  /** The user is offline (has no live connection), so there is no status to set. */
  UserOffline: 'USER_OFFLINE',
  /** The connection already watches `presence.maxWatchedPerConnection` users. */
  WatchLimitReached: 'WATCH_LIMIT_REACHED',
  /** No RPC method of that name is registered (on the server, or on the client). */
  RpcUnknownMethod: 'RPC_UNKNOWN_METHOD',
  /** The RPC handler did not answer within its timeout. */
  RpcTimeout: 'RPC_TIMEOUT',
  /** The connection closed before the call was answered. */
  ConnectionClosed: 'CONNECTION_CLOSED',
  /** A user's handler threw a `WsException` (or a guard refused the frame). */
  HandlerError: 'HANDLER_ERROR',
  /** The user already has `delivery.maxPendingPerUser` messages waiting for acknowledgement. */
  QueueFull: 'QUEUE_FULL',
  /** The client sent faster than `rateLimit` allows; the frame was dropped unread. */
  RateLimited: 'RATE_LIMITED',
  /** The connection keeps `websocket.maxPendingRequests` streams open already. */
  TooManyRequests: 'TOO_MANY_REQUESTS',
  /** WebRTC: the peer a signal is addressed to is not a member of the room (or not there). */
  PeerNotFound: 'PEER_NOT_FOUND',
  /** WebRTC: a server peer would pass `webrtc.maxPeersPerUser`, `maxPeersPerRoom` or `maxPeersPerNode`. */
  PeerLimitReached: 'PEER_LIMIT_REACHED',
  /** The node that holds the connection did not answer (it is gone, or the engine is unreachable). */
  NodeUnavailable: 'NODE_UNAVAILABLE',
  /** Anything unexpected; the server logged it. */
  InternalError: 'INTERNAL_ERROR',
} as const;

/** One of the values of {@link ErrorCode}. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * WebSocket close codes the server uses. 4000-4499 allow the client to reconnect
 * (with backoff); 4500-4999 mean "do not reconnect without the user's action".
 *
 * @example
 * ```ts
 * socket.onclose = (e) => { if (e.code < 4500) scheduleReconnect(); };
 * ```
 */
export const CloseCode = {
  /** The server is shutting down. Reconnect with backoff. */
  GoingAway: 1001,
  /** A frame exceeded `websocket.maxPayload` (sent by ws itself). */
  MessageTooBig: 1009,
  /**
   * The engine could not register the connection; or, for a client that asked with
   * `rt-refuse=close`, `authenticate` failed (HTTP 500 otherwise). Reconnect with backoff.
   */
  InternalError: 1011,
  /**
   * Try Again Later: the server holds `websocket.maxConnections` connections; or, for a
   * client that asked with `rt-refuse=close`, `authenticate` timed out or the server is
   * shutting down (HTTP 503 otherwise). Reconnect with backoff.
   */
  ServerFull: 1013,
  /** The user already holds `websocket.maxConnectionsPerUser` connections. */
  UserConnectionLimit: 4001,
  /**
   * The principal's `exp` (seconds since the epoch, as a JWT has it) has passed: the
   * connection ended then. Reconnect at once with fresh credentials.
   */
  TokenExpired: 4401,
  /** The client read too slowly: more than `websocket.maxBufferedBytes` were waiting. */
  SlowConsumer: 4002,
  /** The client went on sending past `rateLimit` (`maxRefused` frames dropped in a row). */
  RateLimited: 4003,
  /** The application disconnected the connection (`hub.disconnect`). Do not reconnect. */
  Disconnected: 4500,
  /**
   * `authenticate` refused the handshake with 401 (it returned no principal, or threw
   * a 401 `HttpException`); sent instead of HTTP 401 to a client that asked with
   * `rt-refuse=close`. The reason is `401 <message>`. Do not reconnect without new
   * credentials.
   */
  AuthenticationRefused: 4501,
  /**
   * `authenticate` threw an `HttpException` with a 4xx status other than 401; sent
   * instead of that HTTP status to a client that asked with `rt-refuse=close`. The
   * reason is `<status> <message>`, e.g. `403 Forbidden`. Do not reconnect without
   * the user's action.
   */
  Forbidden: 4503,
} as const;

/** One of the values of {@link CloseCode}. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * An error with a stable {@link ErrorCode}. The hub throws it; transports turn it
 * into an error frame, an error reply or a status of their own protocol.
 *
 * @example
 * ```ts
 * try {
 *   await hub.join(connection, name);
 * } catch (err) {
 *   if (err instanceof RealtimeError && err.code === ErrorCode.RoomLimitReached) { ... }
 * }
 * ```
 */
export class RealtimeError extends Error {
  override readonly name = 'RealtimeError';

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
