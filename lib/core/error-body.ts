import { Logger } from '@nestjs/common';
import { INTERNAL_ERROR, RealtimeError, type ErrorBody } from '../protocol/index.js';
import { RpcError } from './rpc/rpc-error.js';
import { logFailure } from '../engines/engine-unavailable.error.js';

const logger = new Logger('RealtimeFrames');

/** A RealtimeError or RpcError keeps its code; anything else is an internal error (logged). */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof RealtimeError) return { code: error.code, message: error.message };
  if (error instanceof RpcError) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error.details) body.details = error.details;
    return body;
  }
  logFailure(logger, 'a built-in event failed', error);
  return INTERNAL_ERROR;
}
