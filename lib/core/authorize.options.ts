import { resolveGroup, type Rule } from '../options-check.js';
import type { RealtimePrincipal } from './realtime-connection.js';

/**
 * Decides whether a client may join a room (`rt:join`, an SSE stream's rooms), or
 * publish to one (`rt:publish`, the SSE publish endpoint). Server code (`hub.join`,
 * `hub.to(room).emit`) is trusted and not asked. A hook that returns false refuses
 * (FORBIDDEN, or 403 over HTTP); one that throws refuses with INTERNAL_ERROR (logged).
 *
 * @example
 * ```ts
 * authorize: {
 *   canJoin: (principal, room) => !room.startsWith('admin:') || principal.role === 'admin',
 *   canPublish: (principal, room, { event }) => event !== 'announcement' || principal.role === 'admin',
 * }
 * ```
 */
export interface AuthorizeOptions {
  canJoin?: (principal: RealtimePrincipal, room: string) => boolean | Promise<boolean>;
  canPublish?: (
    principal: RealtimePrincipal,
    room: string,
    message: { readonly event: string; readonly data: unknown },
  ) => boolean | Promise<boolean>;
  /** Asked before a WebRTC signal from one peer of `room` is passed to another. */
  canSignal?: (
    from: RealtimePrincipal,
    to: { readonly connectionId: string; readonly userId?: string },
    room: string,
  ) => boolean | Promise<boolean>;
}

const hook: Rule = [(v) => typeof v === 'function', 'a function'];
const RULES: Record<keyof AuthorizeOptions, Rule> = {
  canJoin: hook,
  canPublish: hook,
  canSignal: hook,
};

/**
 * The `authorize` hooks, checked. They have no defaults: an absent one allows.
 *
 * @throws RealtimeConfigError naming the first wrong hook.
 * @example
 * ```ts
 * resolveAuthorizeOptions({ canJoin: (principal) => principal.userId !== undefined });
 * ```
 */
export function resolveAuthorizeOptions(
  given: AuthorizeOptions | undefined,
): Readonly<AuthorizeOptions> {
  return resolveGroup('authorize', given, RULES, {} as Required<AuthorizeOptions>);
}
