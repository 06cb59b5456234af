import {
  count,
  isPlainObject,
  ms,
  positiveInteger,
  resolveGroup,
  type Rule,
} from '../../options-check.js';

/**
 * Room history, for recovery. Off by default (`maxCount: 0`): every room message
 * still gets an offset and an epoch, but none is kept. Patterns turn it on where
 * it is wanted; `*` matches any run of characters.
 *
 * @example
 * ```ts
 * history: { rooms: { 'chat:*': { maxCount: 200, maxAge: 600_000 }, 'ticker': { maxCount: 1 } } }
 * ```
 */
export interface HistoryOptions {
  /** Messages kept per room, unless a pattern says otherwise. Default 0 (none). */
  maxCount?: number;
  /** How long a kept message stays, in ms, unless a pattern says otherwise. Default 300000. */
  maxAge?: number;
  /** Most messages one recovery may replay; more is `recovered: false`. Default 1000. */
  recoveryLimit?: number;
  /** Per room-name pattern, checked in order; the first match wins. */
  rooms?: Record<string, { maxCount?: number; maxAge?: number }>;
}

/**
 * The history options after defaults and checks.
 *
 * @example
 * ```ts
 * const policy = new RetentionPolicy(resolveHistoryOptions({ maxCount: 50 }));
 * ```
 */
export type ResolvedHistoryOptions = Readonly<Required<HistoryOptions>>;

/**
 * What history keeps unless told otherwise: nothing.
 *
 * @example
 * ```ts
 * HISTORY_DEFAULTS.maxCount; // 0
 * ```
 */
export const HISTORY_DEFAULTS: ResolvedHistoryOptions = {
  maxCount: 0,
  maxAge: 300_000,
  recoveryLimit: 1_000,
  rooms: {},
};

const RETENTION_RULES: Record<'maxCount' | 'maxAge', Rule> = { maxCount: count, maxAge: ms };
const RULES: Record<keyof HistoryOptions, Rule> = {
  ...RETENTION_RULES,
  recoveryLimit: positiveInteger,
  rooms: [isPlainObject, 'an object of room-name patterns'],
};

/**
 * The `history` options with defaults, checked, each room pattern's retention too.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolveHistoryOptions({ rooms: { 'chat:*': { maxCount: 200 } } }).maxAge; // 300000
 * ```
 */
export function resolveHistoryOptions(given: HistoryOptions | undefined): ResolvedHistoryOptions {
  const history = resolveGroup('history', given, RULES, HISTORY_DEFAULTS);
  for (const [pattern, retention] of Object.entries(history.rooms)) {
    resolveGroup(`history.rooms["${pattern}"]`, retention, RETENTION_RULES, {
      maxCount: history.maxCount,
      maxAge: history.maxAge,
    });
  }
  return history;
}
