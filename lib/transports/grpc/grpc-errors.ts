import { Metadata, type status } from '@grpc/grpc-js';
import { RpcException } from '@nestjs/microservices';
import {
  CLOSE_CODES,
  errorCodeMapping,
  INTERNAL_ERROR,
  RealtimeError,
} from '../../protocol/index.js';

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
 * The core's error (or any other) as a gRPC status error: the code's gRPC status,
 * its message, and the code itself in the trailers; anything unexpected is
 * INTERNAL_ERROR, without its text.
 */
export function toGrpcError(error: unknown): GrpcError {
  if (isGrpcError(error)) return error;
  const { code, message } = error instanceof RealtimeError ? error : INTERNAL_ERROR;
  const trailers = new Metadata();
  trailers.set(ERROR_CODE_METADATA_KEY, code);
  return grpcError(errorCodeMapping(code).grpc, message, trailers);
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
