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
  /**
   * The client sent faster than `rateLimit` allows (the frame was dropped unread), or
   * offered to the server's WebRTC peers faster than `webrtc.offersPerSecond` (the
   * offer was refused, the peer is as it was).
   */
  RateLimited: 'RATE_LIMITED',
  /** The connection keeps `websocket.maxPendingRequests` streams open already. */
  TooManyRequests: 'TOO_MANY_REQUESTS',
  /** WebRTC: the peer a signal is addressed to is not a member of the room (or not there). */
  PeerNotFound: 'PEER_NOT_FOUND',
  /** WebRTC: a server peer would pass `webrtc.maxPeersPerUser`, `maxPeersPerRoom` or `maxPeersPerNode`. */
  PeerLimitReached: 'PEER_LIMIT_REACHED',
  /**
   * WebRTC: a client's offer to the server's peer has more m-sections than the server's
   * own, `webrtc.maxTracksPerPeer` of the client's and one data section; it was
   * refused, and the peer is as it was.
   */
  TrackLimitReached: 'TRACK_LIMIT_REACHED',
  /**
   * The user holds as many streams of this transport on this node as its per-user limit
   * allows (`sse.maxConnectionsPerUser`, `grpc.maxStreamsPerUser`).
   */
  TooManyConnections: 'TOO_MANY_CONNECTIONS',
  /** An HTTP request's body is larger than its limit (`sse.maxPayload` for an SSE publish). */
  PayloadTooLarge: 'PAYLOAD_TOO_LARGE',
  /** The node holds as many streams of this transport as its limit allows (`sse.maxConnections`, `grpc.maxStreams`). */
  ServerFull: 'SERVER_FULL',
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
 * gRPC status codes, by the numbers of the gRPC specification (grpc-js's `status`
 * enum has the same values). Here so that the protocol imports nothing from grpc-js.
 *
 * @example
 * ```ts
 * if (error.code === GrpcStatus.ResourceExhausted) backOff();
 * ```
 *
 * @example
 * ```ts
 * if (error.code === GrpcStatus.ResourceExhausted) backOff();
 * ```
 */
export const GrpcStatus = {
  Ok: 0,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  Unauthenticated: 16,
} as const;

/** One of the values of {@link GrpcStatus}. */
export type GrpcStatus = (typeof GrpcStatus)[keyof typeof GrpcStatus];

/**
 * How one error code shows on each transport.
 *
 * @example
 * ```ts
 * const { http, grpc, close }: ErrorCodeMapping = ERROR_CODES.ROOM_NOT_FOUND; // 404, 5, 4503
 * ```
 */
export interface ErrorCodeMapping {
  /** The HTTP status of an SSE request (or a handshake) refused with this code. */
  readonly http: number;
  /** The gRPC status of a call that fails with this code. */
  readonly grpc: GrpcStatus;
  /** The close code of a connection (or a handshake asked with `rt-refuse=close`) ended by it. */
  readonly close: CloseCode;
}

const row = (http: number, grpc: GrpcStatus, close: CloseCode): ErrorCodeMapping => ({
  http,
  grpc,
  close,
});
const G = GrpcStatus;
const C = CloseCode;

/**
 * THE table of the protocol's error codes: each one's HTTP status, gRPC status and
 * close code. Every transport reads it (docs/protocol.md, "Error codes", prints it);
 * nothing else maps an error code to a status.
 *
 * @example
 * ```ts
 * response.statusCode = ERROR_CODES[error.code].http;
 * ```
 */
export const ERROR_CODES: { readonly [Code in ErrorCode]: ErrorCodeMapping } = {
  [ErrorCode.BadFrame]: row(400, G.InvalidArgument, C.Forbidden),
  [ErrorCode.UnknownEvent]: row(400, G.Unimplemented, C.Forbidden),
  [ErrorCode.InvalidData]: row(400, G.InvalidArgument, C.Forbidden),
  [ErrorCode.RoomNameInvalid]: row(400, G.InvalidArgument, C.Forbidden),
  [ErrorCode.RoomLimitReached]: row(400, G.ResourceExhausted, C.Forbidden),
  [ErrorCode.NotInRoom]: row(403, G.FailedPrecondition, C.Forbidden),
  [ErrorCode.RoomNotFound]: row(404, G.NotFound, C.Forbidden),
  [ErrorCode.NotAuthenticated]: row(401, G.Unauthenticated, C.AuthenticationRefused),
  [ErrorCode.Forbidden]: row(403, G.PermissionDenied, C.Forbidden),
  [ErrorCode.UserOffline]: row(409, G.FailedPrecondition, C.Forbidden),
  [ErrorCode.WatchLimitReached]: row(400, G.ResourceExhausted, C.Forbidden),
  [ErrorCode.RpcUnknownMethod]: row(404, G.Unimplemented, C.Forbidden),
  [ErrorCode.RpcTimeout]: row(504, G.DeadlineExceeded, C.InternalError),
  [ErrorCode.ConnectionClosed]: row(503, G.Unavailable, C.ServerFull),
  [ErrorCode.HandlerError]: row(400, G.Unknown, C.Forbidden),
  [ErrorCode.QueueFull]: row(429, G.ResourceExhausted, C.ServerFull),
  [ErrorCode.RateLimited]: row(429, G.ResourceExhausted, C.RateLimited),
  [ErrorCode.TooManyRequests]: row(429, G.ResourceExhausted, C.RateLimited),
  [ErrorCode.PeerNotFound]: row(404, G.NotFound, C.Forbidden),
  [ErrorCode.PeerLimitReached]: row(429, G.ResourceExhausted, C.Forbidden),
  [ErrorCode.TrackLimitReached]: row(400, G.ResourceExhausted, C.Forbidden),
  [ErrorCode.TooManyConnections]: row(429, G.ResourceExhausted, C.UserConnectionLimit),
  [ErrorCode.PayloadTooLarge]: row(413, G.ResourceExhausted, C.Forbidden),
  [ErrorCode.ServerFull]: row(503, G.Unavailable, C.ServerFull),
  [ErrorCode.NodeUnavailable]: row(503, G.Unavailable, C.ServerFull),
  [ErrorCode.InternalError]: row(500, G.Internal, C.InternalError),
};

/**
 * What a close code tells a client: how to come back, and the gRPC status of a stream ended so.
 *
 * @example
 * ```ts
 * const { reconnect }: CloseCodeMapping = CLOSE_CODES[4401]; // 'at-once'
 * ```
 */
export interface CloseCodeMapping {
  /** `backoff`: reconnect with backoff; `at-once`: with fresh credentials now; `never`: not on its own. */
  readonly reconnect: 'backoff' | 'at-once' | 'never';
  /** The status a gRPC stream ends with when the server ends it for this reason. */
  readonly grpc: GrpcStatus;
}

/**
 * The close codes, each with its reconnect rule and its gRPC status: the table the
 * client's reconnect policy and the gRPC transport read.
 *
 * @example
 * ```ts
 * if (CLOSE_CODES[event.code as CloseCode]?.reconnect === 'never') stop();
 * ```
 */
export const CLOSE_CODES: { readonly [Code in CloseCode]: CloseCodeMapping } = {
  [C.GoingAway]: { reconnect: 'backoff', grpc: G.Unavailable },
  [C.MessageTooBig]: { reconnect: 'backoff', grpc: G.ResourceExhausted },
  [C.InternalError]: { reconnect: 'backoff', grpc: G.Internal },
  [C.ServerFull]: { reconnect: 'backoff', grpc: G.Unavailable },
  [C.UserConnectionLimit]: { reconnect: 'backoff', grpc: G.ResourceExhausted },
  [C.SlowConsumer]: { reconnect: 'backoff', grpc: G.ResourceExhausted },
  [C.RateLimited]: { reconnect: 'backoff', grpc: G.ResourceExhausted },
  [C.TokenExpired]: { reconnect: 'at-once', grpc: G.Unauthenticated },
  [C.Disconnected]: { reconnect: 'never', grpc: G.Aborted },
  [C.AuthenticationRefused]: { reconnect: 'never', grpc: G.Unauthenticated },
  [C.Forbidden]: { reconnect: 'never', grpc: G.PermissionDenied },
};

/** The WebSocket standard's codes (RFC 6455) that a new attempt would meet again, or that end on purpose. */
const FINAL_STANDARD_CODES: ReadonlySet<number> = new Set([1000, 1002, 1003, 1007, 1008, 1010]);

/**
 * How a client comes back after a close code: the rule of {@link CLOSE_CODES} for the
 * server's codes; for a code the table does not list, `never` for 4500-4999 (the range
 * docs/protocol.md keeps for "do not reconnect") and for the WebSocket standard's
 * 1000, 1002, 1003, 1007, 1008 and 1010, `backoff` for any other (1006, 1012, 4000-4499...).
 *
 * @example
 * ```ts
 * closeCodeReconnect(4401); // 'at-once'
 * closeCodeReconnect(1006); // 'backoff'
 * closeCodeReconnect(4599); // 'never'
 * ```
 */
export function closeCodeReconnect(code: number): CloseCodeMapping['reconnect'] {
  const known = (CLOSE_CODES as Partial<Record<number, CloseCodeMapping>>)[code];
  if (known) return known.reconnect;
  return FINAL_STANDARD_CODES.has(code) || code >= 4500 ? 'never' : 'backoff';
}

/**
 * The error code of a refusal that has only an HTTP status (an `authenticate` hook's
 * `HttpException`): 401 is NOT_AUTHENTICATED, 5xx INTERNAL_ERROR, any other FORBIDDEN.
 *
 * @example
 * ```ts
 * refusalCode(403); // 'FORBIDDEN'
 * ```
 */
export function refusalCode(status: number): ErrorCode {
  if (status === 401) return ErrorCode.NotAuthenticated;
  return status >= 500 ? ErrorCode.InternalError : ErrorCode.Forbidden;
}

/**
 * The mapping of an error code, or of INTERNAL_ERROR for a code the table does not
 * know (a user's own code in a `WsException`, say).
 *
 * @example
 * ```ts
 * const { http } = errorCodeMapping(error.code);
 * ```
 */
export function errorCodeMapping(code: string): ErrorCodeMapping {
  return (
    (ERROR_CODES as Partial<Record<string, ErrorCodeMapping>>)[code] ??
    ERROR_CODES[ErrorCode.InternalError]
  );
}
