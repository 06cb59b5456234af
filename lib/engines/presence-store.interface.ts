/**
 * The presence store: each user's status and live connections, with expiry.
 *
 * A user is present while the store holds a record for them. A record lives while
 * the user has a live connection, and `offlineDelay` ms after the last one went (so
 * that a page reload is not seen as offline and online again). A node keeps its
 * connections alive by refreshing them; a node that dies stops doing so, and its
 * connections expire.
 *
 * Rules every implementation keeps:
 * - Each call is atomic across nodes: two nodes adding a user's first connections
 *   see exactly one `cameOnline`; an expired record goes to exactly one sweeper.
 * - Promises reject only when the store could not do what was asked.
 *
 * @example
 * ```ts
 * const { cameOnline } = await engine.presence.add(entry, Date.now());
 * ```
 */
export interface PresenceStore {
  /**
   * Records a live connection of a user, until `expiresAt` unless refreshed. The
   * user's record is created (status `online`) if there was none; `cameOnline`
   * says so.
   */
  add(entry: PresenceEntry, now: number): Promise<{ record: PresenceRecord; cameOnline: boolean }>;

  /** Forgets one connection of a user; the record itself stays until it expires. */
  remove(userId: string, connectionId: string, now: number): Promise<void>;

  /** Pushes back the expiry of live connections (each node refreshes its own). */
  refresh(entries: readonly PresenceEntry[]): Promise<void>;

  /**
   * Sets the status a user chose, for all their connections. Resolves undefined,
   * changing nothing, when the user has no record (is offline).
   */
  setStatus(
    userId: string,
    status: ChosenStatus,
    meta: PresenceMeta | null,
    now: number,
  ): Promise<{ previous: PresenceRecord; record: PresenceRecord } | undefined>;

  /** The records of these users, in the same order; undefined for an offline user. */
  get(userIds: readonly string[]): Promise<(PresenceRecord | undefined)[]>;

  /**
   * Drops connections past their expiry, then the records of users who have had
   * no connection for `offlineDelay` ms, and resolves with those records. When
   * several nodes sweep at once, each record is returned to exactly one of them.
   */
  expire(now: number, offlineDelay: number): Promise<PresenceRecord[]>;
}

/**
 * A status a user can choose; `offline` is what a user without a record is.
 *
 * @example
 * ```ts
 * const status: ChosenStatus = 'away';
 * ```
 */
export type ChosenStatus = 'online' | 'away' | 'busy' | 'invisible';

/**
 * Free-form details a user attaches to their status (`{ activity: 'in a call' }`).
 *
 * @example
 * ```ts
 * const meta: PresenceMeta = { activity: 'in a call' };
 * ```
 */
export type PresenceMeta = Readonly<Record<string, unknown>>;

/**
 * One live connection of a user, as the presence store keeps it.
 *
 * @example
 * ```ts
 * await engine.presence.add({ userId: 'u1', connectionId: 'n1.1', nodeId: 'n1', expiresAt: now + 45_000 }, now);
 * ```
 */
export interface PresenceEntry {
  readonly userId: string;
  readonly connectionId: string;
  readonly nodeId: string;
  /** When the entry dies unless refreshed, in ms since the epoch. */
  readonly expiresAt: number;
}

/**
 * A present user, as the presence store keeps it.
 *
 * @example
 * ```ts
 * const [record] = await engine.presence.get(['u1']);
 * if (record?.status === 'busy') ...
 * ```
 */
export interface PresenceRecord {
  readonly userId: string;
  readonly status: ChosenStatus;
  readonly meta: PresenceMeta | null;
  /** When the status last changed (or the user came online), in ms since the epoch. */
  readonly since: number;
  /** Live connections, on every node. */
  readonly connections: number;
}
