import type {
  ChosenStatus,
  PresenceEntry,
  PresenceMeta,
  PresenceRecord,
  PresenceStore,
} from '../presence-store.interface.js';

/**
 * A user's connections and when each expires: the one connection most users have
 * as two fields, a Map only once there are several (most users would otherwise
 * cost a Map each).
 */
class ConnectionExpiries {
  private onlyId: string | undefined;
  private onlyExpiresAt = 0;
  private several: Map<string, number> | undefined;

  get size(): number {
    return this.several?.size ?? (this.onlyId === undefined ? 0 : 1);
  }

  has(connectionId: string): boolean {
    return this.several ? this.several.has(connectionId) : this.onlyId === connectionId;
  }

  set(connectionId: string, expiresAt: number): void {
    if (this.several) this.several.set(connectionId, expiresAt);
    else if (this.onlyId === undefined || this.onlyId === connectionId) {
      this.onlyId = connectionId;
      this.onlyExpiresAt = expiresAt;
    } else {
      this.several = new Map([
        [this.onlyId, this.onlyExpiresAt],
        [connectionId, expiresAt],
      ]);
      this.onlyId = undefined;
    }
  }

  delete(connectionId: string): boolean {
    if (this.several) return this.several.delete(connectionId);
    if (this.onlyId !== connectionId) return false;
    this.onlyId = undefined;
    return true;
  }

  /** Drops the connections expired at `now`; returns the earliest expiry left (Infinity if none). */
  dropExpired(now: number): number {
    let earliest = Infinity;
    if (this.several) {
      for (const [connectionId, expiresAt] of this.several) {
        if (expiresAt <= now) this.several.delete(connectionId);
        else earliest = Math.min(earliest, expiresAt);
      }
    } else if (this.onlyId !== undefined) {
      if (this.onlyExpiresAt <= now) this.onlyId = undefined;
      else earliest = this.onlyExpiresAt;
    }
    return earliest;
  }
}

interface MemoryUser {
  status: ChosenStatus;
  meta: PresenceMeta | null;
  since: number;
  readonly connections: ConnectionExpiries;
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
        connections: new ConnectionExpiries(),
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
      earliest = Math.min(earliest, user.connections.dropExpired(now));
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
