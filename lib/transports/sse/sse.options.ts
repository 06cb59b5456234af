import {
  boolean,
  bytes,
  limit,
  ms,
  path,
  RealtimeConfigError,
  resolveGroup,
  type Rule,
} from '../../options-check.js';

/**
 * The Server-Sent Events transport: a stream of rooms' messages at `path` (GET),
 * with resume by `Last-Event-ID`, and a publish endpoint at `path + '/publish'`
 * (POST). It shares the application's HTTP server (Express or Fastify).
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
  /**
   * The largest body of a publish, in bytes, on every HTTP platform (the app's own JSON
   * parser does not read it); past it 413 `PAYLOAD_TOO_LARGE`. Default 1 MiB, as
   * `websocket.maxPayload`.
   */
  maxPayload?: number;
}

/**
 * The SSE options after defaults and checks.
 *
 * @example
 * ```ts
 * const options: ResolvedSseOptions | false = resolveSseOptions({ retry: 1_000 }, false);
 * ```
 */
export type ResolvedSseOptions = Readonly<Required<SseOptions>>;

/**
 * What the SSE transport does unless told otherwise.
 *
 * @example
 * ```ts
 * SSE_DEFAULTS.path; // '/realtime/events'
 * ```
 */
export const SSE_DEFAULTS: ResolvedSseOptions = {
  path: '/realtime/events',
  retry: 3_000,
  keepAliveInterval: 15_000,
  maxConnections: Infinity,
  maxConnectionsPerUser: 20,
  maxBufferedBytes: 4 << 20,
  publish: true,
  maxPayload: 1 << 20,
};

const RULES: Record<keyof SseOptions, Rule> = {
  path,
  retry: ms,
  keepAliveInterval: ms,
  maxConnections: limit,
  maxConnectionsPerUser: limit,
  maxBufferedBytes: bytes,
  publish: boolean,
  maxPayload: bytes,
};

/**
 * The `sse` options with defaults, checked; false when the transport is off. Its path
 * may not be the WebSocket transport's (`websocket`, resolved; false when off).
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolveSseOptions({ retry: 1_000 }, { path: '/ws' })!.path; // '/realtime/events'
 * ```
 */
export function resolveSseOptions(
  given: SseOptions | false | undefined,
  websocket: { readonly path: string } | false,
): ResolvedSseOptions | false {
  if (given === false) return false;
  const sse = resolveGroup('sse', given, RULES, SSE_DEFAULTS);
  if (websocket && sse.path === websocket.path) {
    throw new RealtimeConfigError('sse.path', `another path than websocket.path`, sse.path);
  }
  return sse;
}
