import type { IncomingMessage } from 'node:http';
import { RealtimeConfigError } from '../options-check.js';
import type { RealtimePrincipal } from './realtime-connection.js';

/**
 * Decides who may connect, from the HTTP request (headers, cookies, query).
 * Return a principal to accept; return `null`/`undefined`/`false` to refuse with 401;
 * throw an `HttpException` (e.g. `ForbiddenException`) to refuse with its status.
 * Any other error refuses with 500 and is logged.
 *
 * @example
 * ```ts
 * authenticate: async (req) => {
 *   const token = new URL(req.url ?? '', 'http://x').searchParams.get('token');
 *   return token ? { userId: await users.idForToken(token) } : null;
 * }
 * ```
 */
export type AuthenticateHook = (
  request: IncomingMessage,
) =>
  | RealtimePrincipal
  | null
  | undefined
  | false
  | Promise<RealtimePrincipal | null | undefined | false>;

/**
 * The `authenticate` option, checked: a function, or undefined (every client is
 * anonymous).
 *
 * @throws RealtimeConfigError when it is anything else.
 * @example
 * ```ts
 * const hook = resolveAuthenticateHook(options.authenticate);
 * ```
 */
export function resolveAuthenticateHook(
  given: AuthenticateHook | undefined,
): AuthenticateHook | undefined {
  if (given !== undefined && typeof given !== 'function') {
    throw new RealtimeConfigError('authenticate', 'a function', given);
  }
  return given;
}
