import { ErrorCode } from './codes.js';
import { BuiltinEvent } from './events.js';
import type { FrameId } from './inbound-frame.js';

// The frames that answer a client's frame, for every transport that speaks the frame
// protocol (WebSocket, WebRTC data channels).

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
