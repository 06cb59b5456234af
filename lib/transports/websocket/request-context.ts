import { AsyncLocalStorage } from 'node:async_hooks';
import type { FrameId } from '../../protocol/index.js';
import type { RealtimeConnection } from '../../core/realtime-connection.js';

/** The frame a user's handler is running for. */
export interface RequestContext {
  readonly connection: RealtimeConnection;
  readonly event: string;
  readonly id: FrameId | undefined;
  /** Set once the frame has had its reply (a result or an error). */
  answered: boolean;
}

/**
 * Carries the frame being handled through a user's handler and Nest's exception
 * filter, which reports a `WsException` by calling `client.emit('exception', ...)`
 * with no trace of the frame: this is how that error finds the id to reply to.
 */
export const requestContext = new AsyncLocalStorage<RequestContext>();
