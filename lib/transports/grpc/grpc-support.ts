import { refusalReasonOf, type RefusalReason } from '../../core/metrics/realtime-metrics.js';
import type { Metadata } from '@grpc/grpc-js';
import type { IncomingMessage } from 'node:http';
import { AuthenticationRefused, authenticateRequest } from '../../core/authenticate.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import { ERROR_CODES, ErrorCode, RealtimeError, refusalCode } from '../../protocol/index.js';
import type { AuthenticateHook } from '../../core/authenticate.options.js';
import { grpcError, rpcException } from './grpc-errors.js';

/**
 * Runs the app's `authenticate` hook for a call: it gets the call's metadata as the
 * request's headers (lower-case names; binary entries left out), and the method as
 * its URL (`/realtime.v1.Realtime/Subscribe`).
 *
 * @throws GrpcError UNAUTHENTICATED (401), PERMISSION_DENIED (another 4xx), INTERNAL.
 */
export async function authenticateCall(
  hook: AuthenticateHook | undefined,
  metadata: Metadata,
  method: string,
  refused?: (reason: RefusalReason) => void,
): Promise<RealtimePrincipal> {
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) {
    if (typeof value === 'string') headers[key] = value;
  }
  const request = { headers, url: `/realtime.v1.Realtime/${method}`, method: 'POST' };
  try {
    return await authenticateRequest(hook, request as unknown as IncomingMessage);
  } catch (error) {
    if (!(error instanceof AuthenticationRefused)) throw error;
    refused?.(refusalReasonOf(error.status));
    throw grpcError(ERROR_CODES[refusalCode(error.status)].grpc, error.message);
  }
}

/** {@link authenticateCall} for Nest's handlers: a refusal is the RpcException Nest hands to grpc-js. */
export async function authenticateRpc(
  hook: AuthenticateHook | undefined,
  metadata: Metadata,
  method: string,
  refused?: (reason: RefusalReason) => void,
): Promise<RealtimePrincipal> {
  try {
    return await authenticateCall(hook, metadata, method, refused);
  } catch (error) {
    throw rpcException(error);
  }
}

/** A JSON text field: empty is null; anything else must parse. */
export function parseJson(text: string | undefined, field: string): unknown {
  if (text === undefined || text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new RealtimeError(ErrorCode.InvalidData, `${field} must be JSON text`);
  }
}
