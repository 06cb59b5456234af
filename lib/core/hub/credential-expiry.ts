import { CloseCode, MAX_TIMER_DELAY } from '../../protocol/index.js';
import type { RealtimeConnection } from '../realtime-connection.js';

/**
 * A principal with an `exp` claim (seconds since the epoch, a JWT's) holds only until
 * then: the connection is closed with 4401 (a transport's own way for SSE and gRPC),
 * and the client comes back with fresh credentials.
 *
 * @example
 * ```ts
 * expiry.watch(connection); // at attach
 * expiry.forget(connection); // at teardown
 * ```
 */
export class CredentialExpiry {
  /** Per connection whose principal expires, the timer that closes it then. */
  private readonly timers = new Map<RealtimeConnection, NodeJS.Timeout>();

  /** Closes the connection when its credentials expire (if they do). */
  watch(connection: RealtimeConnection): void {
    const { exp } = connection.principal;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return;
    // Always from a timer, even when it has passed already: never inside addConnection.
    const arm = () => {
      const left = Math.max(0, exp * 1_000 - Date.now());
      // setTimeout holds at most ~24.8 days: a longer wait looks again then.
      const timer = setTimeout(
        () => {
          if (exp * 1_000 > Date.now()) return arm();
          this.timers.delete(connection);
          connection.close(CloseCode.TokenExpired, 'the credentials expired');
        },
        Math.min(left, MAX_TIMER_DELAY),
      );
      this.timers.set(connection, timer.unref());
    };
    arm();
  }

  /** The connection is gone: nothing to close any more. */
  forget(connection: RealtimeConnection): void {
    clearTimeout(this.timers.get(connection));
    this.timers.delete(connection);
  }
}
