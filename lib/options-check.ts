// Checking options: the error that names a wrong one, the check of one group against
// its table, and the rules that groups share. Every feature's options file uses them.

import { MAX_TIMER_DELAY } from './protocol/index.js';

/**
 * Start-up fails with this when an option is wrong; the message names the option.
 *
 * @example
 * ```ts
 * // Invalid nest-realtime option "websocket.pingInterval": expected a positive integer (ms, at most 2147483647), got -1
 * ```
 */
export class RealtimeConfigError extends Error {
  override readonly name = 'RealtimeConfigError';

  constructor(
    readonly option: string,
    expected: string,
    got: unknown,
  ) {
    super(`Invalid nest-realtime option "${option}": expected ${expected}, got ${describe(got)}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  return String(value);
}

/**
 * A check of one option's value.
 *
 * @example
 * ```ts
 * const nonEmpty: Check = (v) => typeof v === 'string' && v !== '';
 * ```
 */
export type Check = (value: unknown) => boolean;

/**
 * A plain object (not null, not an array).
 *
 * @example
 * ```ts
 * isPlainObject({ path: '/ws' }); // true
 * isPlainObject([]); // false
 * ```
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks one group of options against its rules, refusing unknown keys too, and fills
 * in the defaults of what is not given (or given as undefined).
 *
 * @throws RealtimeConfigError naming the first wrong option, as `name.key`.
 * @example
 * ```ts
 * resolveGroup('rpc', { timeout: 5_000 }, { timeout: ms }, { timeout: 10_000 }); // { timeout: 5000 }
 * ```
 */
export function resolveGroup<T extends object>(
  name: string,
  given: unknown,
  checks: Record<keyof T, Rule>,
  defaults: Required<T>,
): Required<T> {
  if (given === undefined) return { ...defaults };
  if (!isPlainObject(given)) throw new RealtimeConfigError(name, 'an object', given);
  for (const [key, value] of Object.entries(given)) {
    // Own keys only: `constructor` or `toString` would find Object.prototype's.
    const check = Object.hasOwn(checks, key) ? checks[key as keyof T] : undefined;
    if (!check) {
      const known = Object.keys(checks).join(', ');
      throw new RealtimeConfigError(`${name}.${key}`, `one of the known options (${known})`, value);
    }
    if (value !== undefined && !check[0](value)) {
      throw new RealtimeConfigError(`${name}.${key}`, check[1], value);
    }
  }
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  return { ...defaults, ...defined } as Required<T>;
}

/**
 * A rule for one option: its check, and what the error says was expected.
 *
 * @example
 * ```ts
 * const port: Rule = [(v) => Number.isSafeInteger(v), 'an integer'];
 * ```
 */
export type Rule = [Check, string];

/**
 * A whole number above zero.
 *
 * @example
 * ```ts
 * const ROOM_RULES = { maxPerConnection: positiveInteger };
 * ```
 */
export const positiveInteger: Rule = [
  (v) => Number.isSafeInteger(v) && (v as number) > 0,
  'a positive integer',
];

/**
 * A whole number, zero included.
 *
 * @example
 * ```ts
 * const RETENTION_RULES = { maxCount: count };
 * ```
 */
export const count: Rule = [
  (v) => Number.isSafeInteger(v) && (v as number) >= 0,
  'a non-negative integer',
];

/**
 * A bound that may be lifted: a positive integer, or Infinity.
 *
 * @example
 * ```ts
 * const SSE_RULES = { maxConnections: limit };
 * ```
 */
export const limit: Rule = [
  (v) => v === Infinity || (Number.isSafeInteger(v) && (v as number) > 0),
  'a positive integer or Infinity',
];

/**
 * `true` or `false`.
 *
 * @example
 * ```ts
 * const SSE_RULES = { publish: boolean };
 * ```
 */
export const boolean: Rule = [(v) => typeof v === 'boolean', 'a boolean'];

/**
 * An HTTP path to serve at: `/`, then no spaces, query or fragment.
 *
 * @example
 * ```ts
 * const WEBSOCKET_RULES = { path };
 * ```
 */
export const path: Rule = [
  (v) => typeof v === 'string' && /^\/[^\s?#]*$/.test(v),
  'a path starting with "/" (no spaces, query or fragment)',
];

/**
 * A duration a timer can wait: a positive integer of ms, at most `MAX_TIMER_DELAY`.
 *
 * @example
 * ```ts
 * const RPC_RULES = { timeout: ms };
 * ```
 */
export const ms: Rule = [
  (v) => positiveInteger[0](v) && (v as number) <= MAX_TIMER_DELAY,
  `a positive integer (ms, at most ${MAX_TIMER_DELAY})`,
];

/**
 * A duration that may be zero (no wait), in ms.
 *
 * @example
 * ```ts
 * const PRESENCE_RULES = { offlineDelay: msOrZero };
 * ```
 */
export const msOrZero: Rule = [count[0], 'a non-negative integer (ms)'];

/**
 * A size, in bytes, above zero.
 *
 * @example
 * ```ts
 * const GRPC_RULES = { maxBufferedBytes: bytes };
 * ```
 */
export const bytes: Rule = [positiveInteger[0], 'a positive integer (bytes)'];
