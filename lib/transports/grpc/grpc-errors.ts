import { Metadata, type status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import { toErrorBody } from '../../core/error-body.js';
import { CLOSE_CODES, ERROR_CODES, GrpcStatus } from '../../protocol/index.js';

/**
 * The trailing metadata entry in which a failed call carries its error code
 * (docs/protocol.md, Error codes); the status is the code's gRPC status, and
 * `details` its message.
 *
 * @example
 * ```ts
 * client.Publish(request, (error: grpc.ServiceError | null) => {
 *   const [code] = error?.metadata.get(ERROR_CODE_METADATA_KEY) ?? []; // 'ROOM_NAME_INVALID'
 * });
 * ```
 */
export const ERROR_CODE_METADATA_KEY = 'rt-error-code';

/**
 * The trailing metadata entry in which a failed call carries the `details` of an
 * app's own `RpcError` (or `WsException`), as JSON text.
 *
 * @example
 * ```ts
 * const [json] = error.metadata.get(ERROR_DETAILS_METADATA_KEY); // '{"sku":"x"}'
 * ```
 */
export const ERROR_DETAILS_METADATA_KEY = 'rt-error-details';

/**
 * What a gRPC status error carries: grpc-js sends `code`, `details`, and `metadata`
 * as the trailers.
 */
export interface GrpcError {
  readonly code: status;
  readonly details: string;
  readonly message: string;
  readonly metadata?: Metadata;
}

/** A status error, with `details` (grpc-js) and `message` (Nest) alike. */
export function grpcError(code: status, details: string, metadata?: Metadata): GrpcError {
  return { code, details, message: details, metadata };
}

/**
 * An error as a gRPC status error: the code's gRPC status (`UNKNOWN` for an app's own
 * `RpcError` code), its message, and the code itself (and an `RpcError`'s details) in
 * the trailers; anything unexpected is INTERNAL_ERROR, without its text.
 */
export function toGrpcError(error: unknown): GrpcError {
  if (isGrpcError(error)) return error;
  const { code, message, details } = toErrorBody(error);
  const trailers = new Metadata();
  trailers.set(ERROR_CODE_METADATA_KEY, code);
  if (details) trailers.set(ERROR_DETAILS_METADATA_KEY, JSON.stringify(details));
  const known = (ERROR_CODES as Partial<Record<string, { grpc: status }>>)[code];
  return grpcError(known?.grpc ?? GrpcStatus.Unknown, message, trailers);
}

function isGrpcError(error: unknown): error is GrpcError {
  const { code, details } = (error ?? {}) as Partial<GrpcError>;
  return typeof code === 'number' && typeof details === 'string';
}

/** For Nest's handlers: a status error Nest hands to grpc-js as it is. */
export function rpcException(error: unknown): RpcException {
  return new RpcException(toGrpcError(error));
}

/** A stream's end, as the gRPC status a client sees (OK for an end on purpose, or an unknown code). */
export function closeStatus(code: number, reason: string): GrpcError | undefined {
  const mapping = (CLOSE_CODES as Partial<Record<number, { grpc: status }>>)[code];
  return mapping ? grpcError(mapping.grpc, reason) : undefined;
}
