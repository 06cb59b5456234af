// Checking options: the error that names a wrong one, and the check of one group
// against its table. Shared by every group of options (the module's, WebRTC's).

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

/** A check of one option's value. */
export type Check = (value: unknown) => boolean;

/** A plain object (not null, not an array). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks one group of options against its table, refusing unknown keys too. */
export function resolveGroup<T extends object>(
  name: string,
  given: unknown,
  checks: Record<keyof T, [Check, string]>,
  defaults: Required<T>,
): Required<T> {
  if (given === undefined) return { ...defaults };
  if (!isPlainObject(given)) throw new RealtimeConfigError(name, 'an object', given);
  for (const [key, value] of Object.entries(given)) {
    const check = checks[key as keyof T];
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
