import { HttpException, Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { AuthenticateHook } from './authenticate.options.js';
import type { RealtimePrincipal } from './realtime-connection.js';

/** A refused handshake, with the HTTP status to answer it with. */
export class AuthenticationRefused extends Error {
  override readonly name = 'AuthenticationRefused';

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const ANONYMOUS: RealtimePrincipal = Object.freeze({});
const logger = new Logger('RealtimeAuthentication');

/**
 * Runs the app's `authenticate` hook for one handshake, the same way for every
 * transport. Without a hook every client is anonymous.
 *
 * @throws AuthenticationRefused with 401 (hook said no), the status of an
 *   `HttpException` the hook threw, or 500 (anything else; logged).
 */
export async function authenticateRequest(
  hook: AuthenticateHook | undefined,
  request: IncomingMessage,
): Promise<RealtimePrincipal> {
  if (!hook) return ANONYMOUS;
  let principal: Awaited<ReturnType<AuthenticateHook>>;
  try {
    principal = await hook(request);
  } catch (error) {
    if (error instanceof HttpException) {
      const status = error.getStatus();
      if (status >= 400 && status < 500) throw new AuthenticationRefused(status, error.message);
    }
    logger.error('authenticate() failed', error instanceof Error ? error.stack : String(error));
    throw new AuthenticationRefused(500, 'Internal Server Error');
  }
  if (!principal) throw new AuthenticationRefused(401, 'Unauthorized');
  const { userId } = principal;
  if (
    typeof principal !== 'object' ||
    (userId !== undefined && (typeof userId !== 'string' || userId === ''))
  ) {
    logger.error(
      'authenticate() must return an object whose userId, if any, is a non-empty string',
    );
    throw new AuthenticationRefused(500, 'Internal Server Error');
  }
  // Credentials that have expired already are no credentials (an `exp` to come ends
  // the connection then: see the hub).
  const { exp } = principal;
  if (typeof exp === 'number' && exp * 1_000 <= Date.now()) {
    throw new AuthenticationRefused(401, 'Unauthorized: the credentials expired');
  }
  return principal;
}
