import { CloseCode, closeCodeReconnect } from '../protocol/codes.js';
import { backoffDelay, type ResolvedReconnectOptions } from './backoff.js';

/** A connection ended by 4401 is renewed at once only if it lasted this long, in ms. */
const MIN_LIFE_FOR_RENEWAL = 1_000;

/**
 * What the reconnect policy is told of a connection (or an attempt) that ended.
 *
 * @example
 * ```ts
 * const ended: EndedConnection = { code: 1006, lasted: 12_000, attempt: 0, renewable: true, authRetried: false };
 * ```
 */
export interface EndedConnection {
  /** Its close code: 1006 for one given up, or an attempt that failed before a socket. */
  readonly code: number;
  /** How long it had been up since `rt:connected`, in ms; `undefined` if it never was. */
  readonly lasted: number | undefined;
  /** Failed attempts in a row before it. */
  readonly attempt: number;
  /** Whether the URL is a function, so that a new attempt carries new credentials. */
  readonly renewable: boolean;
  /** Whether a refusal of the credentials (4501) was retried already since the last connection. */
  readonly authRetried: boolean;
}

/**
 * What the client does next, and why: `now` (new credentials at once), `after` a
 * backoff delay, or `stop` for good. `attempt` is the count of failed attempts in a
 * row to keep (and to tell `onState`).
 *
 * @example
 * ```ts
 * const next: ReconnectDecision = { action: 'after', delay: 250, attempt: 1, why: 'backoff' };
 * ```
 */
export type ReconnectDecision =
  | {
      readonly action: 'now';
      readonly delay: 0;
      readonly attempt: number;
      /** `refused-credentials`: 4501, once, with a new URL; `expired-credentials`: 4401. */
      readonly why: 'refused-credentials' | 'expired-credentials';
    }
  | {
      readonly action: 'after';
      readonly delay: number;
      readonly attempt: number;
      readonly why: 'backoff';
    }
  | {
      readonly action: 'stop';
      /** `disabled`: `reconnect: false`; `final-code`: the close code forbids it. */
      readonly why: 'disabled' | 'final-code' | 'attempts-spent';
    };

/**
 * The client's reconnect policy (docs/client.md, Reconnecting), a pure function of
 * how the connection ended: each close code's rule comes from lib/protocol
 * ({@link closeCodeReconnect}, the CLOSE_CODES table). `at-once` (4401) renews at
 * once only with a URL function and after a connection that lasted a second (new
 * credentials that expire at once go through backoff, not a loop); `never` stops,
 * but a 4501 is tried once more at once with a URL function; `backoff` waits, until
 * `maxAttempts` is spent. The count of attempts starts again after a connection that
 * lasted `maxDelay`: a node that accepts and closes at once meets growing waits.
 *
 * @param random a number in [0, 1) for the backoff's jitter, `Math.random()` by default.
 * @example
 * ```ts
 * const next = reconnectDecision(ended, resolveReconnectOptions());
 * if (next.action !== 'stop') setTimeout(reconnect, next.delay);
 * ```
 */
export function reconnectDecision(
  ended: EndedConnection,
  options: ResolvedReconnectOptions | false,
  random: () => number = Math.random,
): ReconnectDecision {
  if (!options) return { action: 'stop', why: 'disabled' };
  const { code, lasted, renewable } = ended;
  const attempt = lasted !== undefined && lasted >= options.maxDelay ? 0 : ended.attempt;
  const rule = closeCodeReconnect(code);
  if (rule === 'at-once' && renewable && lasted !== undefined && lasted >= MIN_LIFE_FOR_RENEWAL) {
    return { action: 'now', delay: 0, attempt, why: 'expired-credentials' };
  }
  if (rule === 'never') {
    // The credentials may have expired: once, at once, with a freshly made URL.
    if (code === CloseCode.AuthenticationRefused && renewable && !ended.authRetried) {
      return { action: 'now', delay: 0, attempt, why: 'refused-credentials' };
    }
    return { action: 'stop', why: 'final-code' };
  }
  if (attempt >= options.maxAttempts) return { action: 'stop', why: 'attempts-spent' };
  return {
    action: 'after',
    delay: backoffDelay(attempt, options, random),
    attempt: attempt + 1,
    why: 'backoff',
  };
}
