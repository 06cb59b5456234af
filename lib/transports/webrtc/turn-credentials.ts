import { createHmac } from 'node:crypto';
import type { IceServer, TurnOptions } from './webrtc.options.js';

/** Seconds TURN credentials are valid when `turn.ttl` is not set. */
export const DEFAULT_TURN_TTL = 3_600;

/**
 * Time-limited TURN credentials for one user (the TURN REST API scheme that coturn's
 * `use-auth-secret` checks): username `<expiry>:<userId>` with the expiry in Unix
 * seconds, password the base64 HMAC-SHA1 of the username under the shared secret.
 *
 * @example
 * ```ts
 * turnCredentials({ urls: ['turn:turn.example.com'], secret: 's3cret' }, 'alice');
 * // { urls: ['turn:turn.example.com'], username: '1767225600:alice', credential: 'q9W...=' }
 * ```
 */
export function turnCredentials(turn: TurnOptions, userId: string, now = Date.now()): IceServer {
  const expiry = Math.floor(now / 1_000) + (turn.ttl ?? DEFAULT_TURN_TTL);
  const username = `${expiry}:${userId}`;
  const credential = createHmac('sha1', turn.secret).update(username).digest('base64');
  return { urls: [...turn.urls], username, credential };
}
