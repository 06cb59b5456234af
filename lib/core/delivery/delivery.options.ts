import { ms, positiveInteger, resolveGroup, type Rule } from '../../options-check.js';

/**
 * Acknowledged delivery (`DeliveryService`).
 *
 * @example
 * ```ts
 * delivery: { ackTimeout: 2_000, maxAttempts: 8, ttl: 600_000 }
 * ```
 */
export interface DeliveryOptions {
  /** Wait before the first resend, in ms; it doubles each time. Default 1000. */
  ackTimeout?: number;
  /** The longest wait between sends, in ms. Default 30000. */
  maxBackoff?: number;
  /** Sends before a message is given up on. Default 5. */
  maxAttempts?: number;
  /** How long a message is tried, in ms. Default 60000. */
  ttl?: number;
  /** Messages that may wait for one user's acknowledgement. Default 100. */
  maxPendingPerUser?: number;
}

/**
 * The delivery options after defaults and checks.
 *
 * @example
 * ```ts
 * const { ackTimeout }: ResolvedDeliveryOptions = resolveDeliveryOptions({});
 * ```
 */
export type ResolvedDeliveryOptions = Readonly<Required<DeliveryOptions>>;

/**
 * How delivery retries unless told otherwise.
 *
 * @example
 * ```ts
 * DELIVERY_DEFAULTS.maxAttempts; // 5
 * ```
 */
export const DELIVERY_DEFAULTS: ResolvedDeliveryOptions = {
  ackTimeout: 1_000,
  maxBackoff: 30_000,
  maxAttempts: 5,
  ttl: 60_000,
  maxPendingPerUser: 100,
};

const RULES: Record<keyof DeliveryOptions, Rule> = {
  ackTimeout: ms,
  maxBackoff: ms,
  maxAttempts: positiveInteger,
  ttl: ms,
  maxPendingPerUser: positiveInteger,
};

/**
 * The `delivery` options with defaults, checked.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolveDeliveryOptions({ maxAttempts: 8 }).ttl; // 60000
 * ```
 */
export function resolveDeliveryOptions(
  given: DeliveryOptions | undefined,
): ResolvedDeliveryOptions {
  return resolveGroup('delivery', given, RULES, DELIVERY_DEFAULTS);
}
