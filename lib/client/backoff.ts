import { MAX_TIMER_DELAY } from '../protocol/limits.js';

/**
 * How the client waits between connection attempts: exponential backoff with full
 * jitter (a random delay between 0 and `min(maxDelay, initialDelay * factor^n)`
 * before the n-th retry in a row, counting from 0), so that thousands of clients
 * cut off at once do not come back at once.
 *
 * @example
 * ```ts
 * new RealtimeClient(url, { reconnect: { initialDelay: 1_000, maxDelay: 30_000, maxAttempts: 20 } });
 * ```
 */
export interface ReconnectOptions {
  /** The ceiling of the first retry's delay, in ms. Default 500. */
  initialDelay?: number;
  /** The ceiling of any delay, in ms. Default 10000. */
  maxDelay?: number;
  /** How much the ceiling grows per failed attempt. Default 2. */
  factor?: number;
  /** Retries in a row after which the client gives up (state `disconnected`). Default Infinity. */
  maxAttempts?: number;
}

/**
 * The options with their defaults.
 *
 * @example
 * ```ts
 * const options: ResolvedReconnectOptions = resolveReconnectOptions({ maxDelay: 10_000 });
 * ```
 */
export type ResolvedReconnectOptions = Required<ReconnectOptions>;

/**
 * Fills in the defaults and checks the values.
 *
 * @throws RangeError naming the wrong option.
 * @example
 * ```ts
 * resolveReconnectOptions({ maxDelay: 5_000 }).initialDelay; // 500
 * ```
 */
export function resolveReconnectOptions(given: ReconnectOptions = {}): ResolvedReconnectOptions {
  const options = { initialDelay: 500, maxDelay: 10_000, factor: 2, maxAttempts: Infinity };
  for (const [key, value] of Object.entries(given)) {
    if (!(key in options)) throw new RangeError(`unknown reconnect option "${key}"`);
    if (value === undefined) continue;
    const least = key === 'factor' || key === 'maxAttempts' ? 1 : 0;
    // Delays past 2^31-1 ms would fire at once; an infinite factor makes 0 * Infinity.
    const most = key === 'maxAttempts' ? Infinity : key === 'factor' ? 1_000 : MAX_TIMER_DELAY;
    const whole = key !== 'maxAttempts' || Number.isInteger(value) || value === Infinity;
    if (typeof value !== 'number' || !(value >= least && value <= most) || !whole) {
      const kind = key === 'maxAttempts' ? 'an integer (or Infinity)' : 'a number';
      throw new RangeError(`reconnect.${key} must be ${kind} from ${least} to ${most}`);
    }
    options[key as keyof typeof options] = value;
  }
  return options;
}

/**
 * The delay before retry number `attempt` (0 for the first retry in a row).
 *
 * @param random a number in [0, 1), `Math.random()` by default.
 * @example
 * ```ts
 * backoffDelay(3, resolveReconnectOptions(), () => 0.5); // 0.5 * min(10000, 500 * 2^3) = 2000
 * ```
 */
export function backoffDelay(
  attempt: number,
  options: ResolvedReconnectOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxDelay, options.initialDelay * options.factor ** attempt);
  return Math.floor(random() * ceiling);
}
