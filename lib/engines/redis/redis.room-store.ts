import type { RoomMember, RoomRecord, RoomStore } from '../room-store.interface.js';
import type { RedisConnection } from './redis-connection.js';

/**
 * The room store of the Redis engine: a room's record, its members (a hash, and a
 * sorted set for their join order) and per-user counts in Redis; a join and a leave
 * each one script, so that nodes racing on one user's members see one first and one
 * last.
 *
 * @example
 * ```ts
 * const members = await engine.rooms.members('lobby');
 * ```
 */
export class RedisRoomStore implements RoomStore {
  constructor(private readonly connection: RedisConnection) {}

  async create(room: string, now: number): Promise<RoomRecord> {
    const key = this.connection.key('room', room);
    await this.connection
      .redis()
      .multi()
      .hsetnx(key, 'created', now)
      .hset(key, 'persistent', 1)
      .exec();
    return (await this.get(room))!;
  }

  async delete(room: string): Promise<boolean> {
    const redis = this.connection.redis();
    const existed = await redis.rtDeleteRoom(...this.roomKeys(room), room, this.connection.prefix);
    return existed === 1;
  }

  async addMember(room: string, member: RoomMember) {
    const userId = member.userId ?? '';
    const [created, persistent, size, first] = (await this.connection
      .redis()
      .rtAddMember(
        ...this.roomKeys(room),
        this.connection.key('ur', userId),
        this.connection.key('seq', room),
        room,
        member.connectionId,
        JSON.stringify(member),
        userId,
        member.joinedAt,
      )) as [number, number, number, number];
    return {
      room: { name: room, created, persistent: persistent === 1, size },
      firstOfUser: first === 1,
    };
  }

  async removeMember(room: string, connectionId: string) {
    const [removed, last] = (await this.connection
      .redis()
      .rtRemoveMember(...this.roomKeys(room), room, connectionId, this.connection.prefix)) as [
      number,
      number,
    ];
    return { removed: removed === 1, lastOfUser: last === 1 };
  }

  async get(room: string): Promise<RoomRecord | undefined> {
    const [roomKey, , members] = this.roomKeys(room);
    const [[, record], [, size]] = (await this.connection
      .redis()
      .multi()
      .hmget(roomKey, 'created', 'persistent')
      .hlen(members)
      .exec()) as [[unknown, (string | null)[]], [unknown, number]];
    if (record[0] === null) return undefined;
    return { name: room, created: Number(record[0]), persistent: record[1] === '1', size };
  }

  async members(room: string): Promise<RoomMember[]> {
    const [, order, members] = this.roomKeys(room);
    const redis = this.connection.redis();
    const ids = await redis.zrange(order, 0, -1);
    if (ids.length === 0) return [];
    const values = await redis.hmget(members, ...ids);
    return values.flatMap((value) => (value === null ? [] : [JSON.parse(value) as RoomMember]));
  }

  async roomsOf(userId: string): Promise<string[]> {
    return this.connection.redis().smembers(this.connection.key('ur', userId));
  }

  /** A room's record, member order, members and user counts. */
  private roomKeys(room: string): [string, string, string, string] {
    const { connection } = this;
    return [
      connection.key('room', room),
      connection.key('mo', room),
      connection.key('mm', room),
      connection.key('mu', room),
    ];
  }
}
