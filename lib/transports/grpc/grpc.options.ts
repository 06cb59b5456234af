import { bytes, limit, RealtimeConfigError, resolveGroup, type Rule } from '../../options-check.js';

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
  /** Streams (Subscribe, WatchPresence, Session) open at once on this node. Default unlimited. */
  maxStreams?: number;
  /** Streams of one user open at once on this node. Default 20. */
  maxStreamsPerUser?: number;
}

/**
 * The gRPC options after defaults and checks.
 *
 * @example
 * ```ts
 * const options: ResolvedGrpcOptions | undefined = resolveGrpcOptions({ url: '0.0.0.0:50051' });
 * ```
 */
export type ResolvedGrpcOptions = Readonly<Required<GrpcOptions>>;

/**
 * What the gRPC API does unless told otherwise (it has no default `url`).
 *
 * @example
 * ```ts
 * GRPC_DEFAULTS.maxBufferedBytes; // 4 MiB
 * ```
 */
export const GRPC_DEFAULTS: Omit<ResolvedGrpcOptions, 'url'> = {
  maxBufferedBytes: 4 << 20,
  maxStreams: Infinity,
  maxStreamsPerUser: 20,
};

const url: Rule = [
  (v) => typeof v === 'string' && /^[^\s]+:\d{1,5}$/.test(v),
  'a "host:port" string',
];
const RULES: Record<keyof GrpcOptions, Rule> = {
  url,
  maxBufferedBytes: bytes,
  maxStreams: limit,
  maxStreamsPerUser: limit,
};

/**
 * The `grpc` options with defaults, checked; undefined when gRPC is off (not set).
 *
 * @throws RealtimeConfigError naming the first wrong option (`grpc.url` when missing).
 * @example
 * ```ts
 * resolveGrpcOptions({ url: '0.0.0.0:50051' })!.maxBufferedBytes; // 4194304
 * ```
 */
export function resolveGrpcOptions(
  given: GrpcOptions | undefined,
): ResolvedGrpcOptions | undefined {
  if (given === undefined) return undefined;
  const grpc = resolveGroup('grpc', given, RULES, { url: '', ...GRPC_DEFAULTS });
  if (grpc.url === '') throw new RealtimeConfigError('grpc.url', url[1], undefined);
  return grpc;
}
