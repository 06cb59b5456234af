import { Logger } from '@nestjs/common';
import { BuiltinEvent } from '../realtime.constants.js';
import type { FrameId } from './inbound-frame.js';
import { ErrorCode, RealtimeError } from './realtime-error.js';
import { RpcError } from './rpc/rpc-error.js';

// The frames that answer a client's frame, for every transport that speaks the frame
// protocol (WebSocket, WebRTC data channels).

const logger = new Logger('RealtimeFrames');

/** The body of an error reply or error frame. */
export interface ErrorBody {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** Nest's message for errors that are not `WsException`s; ours say the same. */
export const INTERNAL_ERROR: ErrorBody = {
  code: ErrorCode.InternalError,
  message: 'Internal server error',
};
/** The reply to a frame with an `id`. */
export function replyFrame(id: FrameId, data: unknown): object {
  return { event: BuiltinEvent.Reply, id, data: data ?? null };
}

/** An error: the reply to a frame with an `id`, or an `rt:error` frame for one without. */
export function errorFrame(id: FrameId | undefined, error: ErrorBody, event?: string): object {
  return id === undefined
    ? { event: BuiltinEvent.Error, data: { ...error, event } }
    : { event: BuiltinEvent.Reply, id, error };
}

/** A RealtimeError or RpcError keeps its code; anything else is an internal error (logged). */
export function toErrorBody(error: unknown): ErrorBody {
  if (error instanceof RealtimeError) return { code: error.code, message: error.message };
  if (error instanceof RpcError) {
    const body: ErrorBody = { code: error.code, message: error.message };
    if (error.details) body.details = error.details;
    return body;
  }
  logger.error('a built-in event failed', error instanceof Error ? error.stack : error);
  return INTERNAL_ERROR;
}
