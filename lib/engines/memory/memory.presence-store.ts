import type {
  ChosenStatus,
  PresenceEntry,
  PresenceMeta,
  PresenceRecord,
  PresenceStore,
} from '../presence-store.interface.js';

interface MemoryUser {
  status: ChosenStatus;
  meta: PresenceMeta | null;
  since: number;
  /** connectionId -> expiresAt */
  readonly connections: Map<string, number>;
  /** When the last connection went; undefined while there is one. */
  emptySince: number | undefined;
}

/**
 * The presence store of the memory engine, in this process (shared by the nodes of
 * one named store).
 *
 * @example
 * ```ts
 * const [record] = await new MemoryEngine().presence.get(['u1']);
 * ```
 */
export class MemoryPresenceStore implements PresenceStore {
  private readonly users = new Map<string, MemoryUser>();
  /** Users with no connection left, waiting for offlineDelay. */
  private readonly empty = new Set<string>();
  /**
   * No connection expires before this (a lower bound: refreshes only push expiries
   * later), so a sweep before it need not look at connections at all.
   */
  private earliestExpiry = Infinity;

  clear(): void {
    this.users.clear();
    this.empty.clear();
    this.earliestExpiry = Infinity;
  }

  async add(
    entry: PresenceEntry,
    now: number,
  ): Promise<{ record: PresenceRecord; cameOnline: boolean }> {
    let user = this.users.get(entry.userId);
    const cameOnline = !user;
    if (!user) {
      user = {
        status: 'online',
        meta: null,
        since: now,
        connections: new Map(),
        emptySince: undefined,
      };
      this.users.set(entry.userId, user);
    }
    user.connections.set(entry.connectionId, entry.expiresAt);
    user.emptySince = undefined;
    this.empty.delete(entry.userId);
    this.earliestExpiry = Math.min(this.earliestExpiry, entry.expiresAt);
    return { record: toRecord(entry.userId, user), cameOnline };
  }

  async remove(userId: string, connectionId: string, now: number): Promise<void> {
    const user = this.users.get(userId);
    if (user?.connections.delete(connectionId) && user.connections.size === 0) {
      user.emptySince = now;
      this.empty.add(userId);
    }
  }

  async refresh(entries: readonly PresenceEntry[]): Promise<void> {
    for (const { userId, connectionId, expiresAt } of entries) {
      const connections = this.users.get(userId)?.connections;
      if (connections?.has(connectionId)) connections.set(connectionId, expiresAt);
    }
  }

  async setStatus(
    userId: string,
    status: ChosenStatus,
    meta: PresenceMeta | null,
    now: number,
  ): Promise<{ previous: PresenceRecord; record: PresenceRecord } | undefined> {
    const user = this.users.get(userId);
    if (!user) return undefined;
    const previous = toRecord(userId, user);
    user.status = status;
    user.meta = meta;
    user.since = now;
    return { previous, record: toRecord(userId, user) };
  }

  async get(userIds: readonly string[]): Promise<(PresenceRecord | undefined)[]> {
    return userIds.map((userId) => {
      const user = this.users.get(userId);
      return user && toRecord(userId, user);
    });
  }

  async expire(now: number, offlineDelay: number): Promise<PresenceRecord[]> {
    if (now >= this.earliestExpiry) this.dropExpiredConnections(now);
    const gone: PresenceRecord[] = [];
    for (const userId of this.empty) {
      const user = this.users.get(userId)!;
      if (now - user.emptySince! < offlineDelay) continue;
      this.empty.delete(userId);
      this.users.delete(userId);
      gone.push(toRecord(userId, user));
    }
    return gone;
  }

  private dropExpiredConnections(now: number): void {
    let earliest = Infinity;
    for (const [userId, user] of this.users) {
      for (const [connectionId, expiresAt] of user.connections) {
        if (expiresAt <= now) user.connections.delete(connectionId);
        else earliest = Math.min(earliest, expiresAt);
      }
      if (user.connections.size === 0 && user.emptySince === undefined) {
        user.emptySince = now;
        this.empty.add(userId);
      }
    }
    this.earliestExpiry = earliest;
  }
}

function toRecord(userId: string, user: MemoryUser): PresenceRecord {
  return {
    userId,
    status: user.status,
    meta: user.meta,
    since: user.since,
    connections: user.connections.size,
  };
}
