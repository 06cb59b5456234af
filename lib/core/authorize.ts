import { Logger } from '@nestjs/common';
import type { AuthorizeOptions } from './authorize.options.js';
import type { RealtimePrincipal } from './realtime-connection.js';
import { ErrorCode, RealtimeError } from '../protocol/index.js';

const logger = new Logger('RealtimeAuthorization');

/** Runs one hook: false refuses with FORBIDDEN; a throw refuses with INTERNAL_ERROR (logged). */
async function ask(hook: () => boolean | Promise<boolean>, refusal: string): Promise<void> {
  let allowed: boolean;
  try {
    allowed = await hook();
  } catch (error) {
    logger.error('an authorize hook failed', error instanceof Error ? error.stack : String(error));
    throw new RealtimeError(ErrorCode.InternalError, 'Internal server error');
  }
  if (allowed !== true) throw new RealtimeError(ErrorCode.Forbidden, refusal);
}

/**
 * Whether this principal may join this room, by the app's `authorize.canJoin`, the
 * same way for every transport. Without the hook, it may.
 *
 * @throws RealtimeError FORBIDDEN, or INTERNAL_ERROR when the hook threw.
 */
export async function assertCanJoin(
  authorize: AuthorizeOptions,
  principal: RealtimePrincipal,
  room: string,
): Promise<void> {
  const { canJoin } = authorize;
  if (canJoin) await ask(() => canJoin(principal, room), `not allowed to join "${room}"`);
}

/**
 * Whether this principal may publish this message to this room, by the app's
 * `authorize.canPublish`. Without the hook, it may.
 *
 * @throws RealtimeError FORBIDDEN, or INTERNAL_ERROR when the hook threw.
 */
export async function assertCanPublish(
  authorize: AuthorizeOptions,
  principal: RealtimePrincipal,
  room: string,
  message: { readonly event: string; readonly data: unknown },
): Promise<void> {
  const { canPublish } = authorize;
  if (canPublish) {
    await ask(() => canPublish(principal, room, message), `not allowed to publish to "${room}"`);
  }
}

/**
 * Whether a peer of `room` may pass a WebRTC signal to another, by the app's
 * `authorize.canSignal`. Without the hook, members of one room may.
 *
 * @throws RealtimeError FORBIDDEN, or INTERNAL_ERROR when the hook threw.
 */
export async function assertCanSignal(
  authorize: AuthorizeOptions,
  from: RealtimePrincipal,
  to: { readonly connectionId: string; readonly userId?: string },
  room: string,
): Promise<void> {
  const { canSignal } = authorize;
  if (canSignal) {
    await ask(() => canSignal(from, to, room), `not allowed to signal ${to.connectionId}`);
  }
}
