import type {
  ChosenStatus,
  PresenceEntry,
  PresenceMeta,
  PresenceRecord,
  PresenceStore,
} from '../presence-store.interface.js';
import type { RedisConnection } from './redis-connection.js';
import type { ScriptedPipeline } from './redis-scripts.js';

/**
 * The presence store of the Redis engine: per user a hash (status, meta, since) and a
 * hash of live connections with their expiry, and one sorted set of when each user is
 * next due a sweep; each change one script, so that one sweeper gets each record.
 *
 * @example
 * ```ts
 * const [record] = await engine.presence.get(['u1']);
 * ```
 */
export class RedisPresenceStore implements PresenceStore {
  constructor(private readonly connection: RedisConnection) {}

  async add(entry: PresenceEntry, now: number) {
    const [came, status, meta, since, connections] = (await this.connection
      .redis()
      .rtAddPresence(
        ...this.keys(entry.userId),
        entry.userId,
        entry.connectionId,
        entry.expiresAt,
        now,
      )) as [number, ChosenStatus, string, number, number];
    return {
      record: { userId: entry.userId, status, meta: JSON.parse(meta), since, connections },
      cameOnline: came === 1,
    };
  }

  async remove(userId: string, connectionId: string, now: number): Promise<void> {
    await this.connection.redis().rtRemovePresence(...this.keys(userId), userId, connectionId, now);
  }

  async refresh(entries: readonly PresenceEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.connection.redis().pipeline() as ScriptedPipeline;
    for (const { userId, connectionId, expiresAt } of entries) {
      pipeline.rtRefreshPresence(this.connection.key('pc', userId), connectionId, expiresAt);
    }
    const failed = (await pipeline.exec())!.find(([error]) => error);
    if (failed) throw failed[0];
  }

  async setStatus(userId: string, status: ChosenStatus, meta: PresenceMeta | null, now: number) {
    const [user, connectionsKey] = this.keys(userId);
    const reply = (await this.connection
      .redis()
      .rtSetStatus(user, connectionsKey, status, JSON.stringify(meta), now)) as
      [ChosenStatus, string, number, number, number] | [];
    if (reply.length === 0) return undefined;
    const [oldStatus, oldMeta, oldSince, since, connections] = reply;
    return {
      previous: {
        userId,
        status: oldStatus,
        meta: JSON.parse(oldMeta),
        since: oldSince,
        connections,
      },
      record: { userId, status, meta, since, connections },
    };
  }

  async get(userIds: readonly string[]): Promise<(PresenceRecord | undefined)[]> {
    if (userIds.length === 0) return [];
    const pipeline = this.connection.redis().pipeline();
    for (const userId of userIds) {
      pipeline.hmget(this.connection.key('p', userId), 'status', 'meta', 'since');
      pipeline.hlen(this.connection.key('pc', userId));
    }
    const results = (await pipeline.exec())!;
    // A pipeline answers errors in place: the first one fails the whole read.
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
    return userIds.map((userId, i) => {
      const [status, meta, since] = results[2 * i]![1] as (string | null)[];
      if (status === null) return undefined;
      const connections = results[2 * i + 1]![1] as number;
      return {
        userId,
        status: status as ChosenStatus,
        meta: JSON.parse(meta!),
        since: Number(since),
        connections,
      };
    });
  }

  async expire(now: number, offlineDelay: number): Promise<PresenceRecord[]> {
    const flat = (await this.connection
      .redis()
      .rtExpirePresence(
        this.connection.key('psweep', ''),
        now,
        offlineDelay,
        this.connection.prefix,
      )) as string[];
    const gone: PresenceRecord[] = [];
    for (let i = 0; i < flat.length; i += 4) {
      gone.push({
        userId: flat[i]!,
        status: flat[i + 1] as ChosenStatus,
        meta: JSON.parse(flat[i + 2]!),
        since: Number(flat[i + 3]),
        connections: 0,
      });
    }
    return gone;
  }

  /** A user's record, connections, and the sweep set. */
  private keys(userId: string): [string, string, string] {
    const { connection } = this;
    return [
      connection.key('p', userId),
      connection.key('pc', userId),
      connection.key('psweep', ''),
    ];
  }
}
