import { RealtimeConfigError } from '../options-check.js';
import type { OriginPolicy } from './origin-policy.js';

/** An origin the allow-list may name: a scheme, a host (maybe `*.`-prefixed), a port. */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/(\*\.)?[a-z0-9.-]+(:\d+)?$/i;

function isOriginPolicy(value: unknown): value is OriginPolicy {
  return (
    value === 'same-origin' ||
    value === '*' ||
    typeof value === 'function' ||
    (Array.isArray(value) &&
      value.every((origin) => typeof origin === 'string' && ORIGIN.test(origin)))
  );
}

/**
 * The `origins` option, checked; `'same-origin'` unless set.
 *
 * @throws RealtimeConfigError when it is no {@link OriginPolicy}.
 * @example
 * ```ts
 * resolveOriginPolicy(undefined); // 'same-origin'
 * resolveOriginPolicy(['https://*.example.com']);
 * ```
 */
export function resolveOriginPolicy(given: OriginPolicy | undefined): OriginPolicy {
  const origins = given ?? 'same-origin';
  if (!isOriginPolicy(origins)) {
    throw new RealtimeConfigError(
      'origins',
      '\'same-origin\', \'*\', a list of origins ("https://app.example.com", "https://*.example.com") or a function',
      origins,
    );
  }
  return origins;
}
