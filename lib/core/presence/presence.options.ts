import {
  bytes,
  ms,
  msOrZero,
  positiveInteger,
  RealtimeConfigError,
  resolveGroup,
  type Rule,
} from '../../options-check.js';

/**
 * Presence: user statuses, room members, watchers.
 *
 * @example
 * ```ts
 * presence: { offlineDelay: 3_000, batchInterval: 100, maxMetaBytes: 512 }
 * ```
 */
export interface PresenceOptions {
  /** How often a node refreshes the presence of its live connections, in ms. Default 15000. */
  heartbeatInterval?: number;
  /**
   * After how long without a refresh a connection counts as dead, in ms (a node that
   * died). It must exceed `heartbeatInterval` and `websocket.pingInterval +
   * websocket.pongTimeout`. Default 45000.
   */
  timeout?: number;
  /** How often expired connections and offline users are swept, in ms. Default 1000. */
  cleanupInterval?: number;
  /** How long a user stays present after their last connection went, in ms. Default 5000. */
  offlineDelay?: number;
  /** Room presence changes are gathered for this long, then sent as one diff, in ms. Default 100. */
  batchInterval?: number;
  /** Largest status metadata, in bytes of JSON. Default 1024. */
  maxMetaBytes?: number;
  /** Users one connection may watch at once. Default 1000. */
  maxWatchedPerConnection?: number;
}

/**
 * The presence options after defaults and checks.
 *
 * @example
 * ```ts
 * const options: ResolvedPresenceOptions | false = resolvePresenceOptions({}, false);
 * ```
 */
export type ResolvedPresenceOptions = Readonly<Required<PresenceOptions>>;

/**
 * What presence does unless told otherwise.
 *
 * @example
 * ```ts
 * PRESENCE_DEFAULTS.timeout; // 45000
 * ```
 */
export const PRESENCE_DEFAULTS: ResolvedPresenceOptions = {
  heartbeatInterval: 15_000,
  timeout: 45_000,
  cleanupInterval: 1_000,
  offlineDelay: 5_000,
  batchInterval: 100,
  maxMetaBytes: 1_024,
  maxWatchedPerConnection: 1_000,
};

const RULES: Record<keyof PresenceOptions, Rule> = {
  heartbeatInterval: ms,
  timeout: ms,
  cleanupInterval: ms,
  offlineDelay: msOrZero,
  batchInterval: ms,
  maxMetaBytes: bytes,
  maxWatchedPerConnection: positiveInteger,
};

/** How the WebSocket transport finds a dead socket (resolved; false when it is off). */
type DeadSocketDetection = { readonly pingInterval: number; readonly pongTimeout: number } | false;

/**
 * The `presence` options with defaults, checked; false when presence is off. A live
 * connection must be refreshed, and a dead socket found (by `websocket`'s pings),
 * before presence gives up on it.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolvePresenceOptions({ offlineDelay: 0 }, { pingInterval: 25_000, pongTimeout: 10_000 });
 * ```
 */
export function resolvePresenceOptions(
  given: PresenceOptions | false | undefined,
  websocket: DeadSocketDetection,
): ResolvedPresenceOptions | false {
  if (given === false) return false;
  const presence = resolveGroup('presence', given, RULES, PRESENCE_DEFAULTS);
  const { timeout, heartbeatInterval } = presence;
  if (timeout <= heartbeatInterval) {
    throw new RealtimeConfigError(
      'presence.timeout',
      `more than presence.heartbeatInterval (${heartbeatInterval})`,
      timeout,
    );
  }
  if (websocket && timeout < websocket.pingInterval + websocket.pongTimeout) {
    const detection = websocket.pingInterval + websocket.pongTimeout;
    throw new RealtimeConfigError(
      'presence.timeout',
      `at least websocket.pingInterval + websocket.pongTimeout (${detection})`,
      timeout,
    );
  }
  return presence;
}
