import type { RoomMember, RoomRecord, RoomStore } from '../room-store.interface.js';

interface MemoryRoom {
  readonly created: number;
  persistent: boolean;
  /** Keyed by connection id; a Map keeps join order. */
  readonly members: Map<string, RoomMember>;
}

/**
 * The room store of the memory engine: rooms, members, and each user's rooms, in
 * this process (shared by the nodes of one named store).
 *
 * @example
 * ```ts
 * const { firstOfUser } = await new MemoryEngine().rooms.addMember('lobby', member);
 * ```
 */
export class MemoryRoomStore implements RoomStore {
  private readonly rooms = new Map<string, MemoryRoom>();
  /**
   * userId -> room -> that user's member connections in the room; a user with one
   * member connection, in one room, is that room's name alone (no Map per user).
   */
  private readonly userRooms = new Map<string, string | Map<string, number>>();

  clear(): void {
    this.rooms.clear();
    this.userRooms.clear();
  }

  async create(room: string, now: number): Promise<RoomRecord> {
    const existing = this.rooms.get(room);
    if (existing) {
      existing.persistent = true;
      return toRecord(room, existing);
    }
    const created: MemoryRoom = { created: now, persistent: true, members: new Map() };
    this.rooms.set(room, created);
    return toRecord(room, created);
  }

  async delete(room: string): Promise<boolean> {
    const entry = this.rooms.get(room);
    if (!entry) return false;
    for (const member of entry.members.values()) this.countUser(member.userId, room, -1);
    return this.rooms.delete(room);
  }

  async addMember(
    room: string,
    member: RoomMember,
  ): Promise<{ room: RoomRecord; firstOfUser: boolean }> {
    let entry = this.rooms.get(room);
    if (!entry) {
      entry = { created: member.joinedAt, persistent: false, members: new Map() };
      this.rooms.set(room, entry);
    }
    let firstOfUser = false;
    if (!entry.members.has(member.connectionId)) {
      entry.members.set(member.connectionId, member);
      firstOfUser = this.countUser(member.userId, room, 1) === 1;
    }
    return { room: toRecord(room, entry), firstOfUser };
  }

  async removeMember(
    room: string,
    connectionId: string,
  ): Promise<{ removed: boolean; lastOfUser: boolean }> {
    const entry = this.rooms.get(room);
    const member = entry?.members.get(connectionId);
    if (!entry || !member) return { removed: false, lastOfUser: false };
    entry.members.delete(connectionId);
    if (entry.members.size === 0 && !entry.persistent) this.rooms.delete(room);
    const lastOfUser = member.userId !== undefined && this.countUser(member.userId, room, -1) === 0;
    return { removed: true, lastOfUser };
  }

  async get(room: string): Promise<RoomRecord | undefined> {
    const entry = this.rooms.get(room);
    return entry && toRecord(room, entry);
  }

  async members(room: string): Promise<RoomMember[]> {
    return [...(this.rooms.get(room)?.members.values() ?? [])];
  }

  async roomsOf(userId: string): Promise<string[]> {
    const rooms = this.userRooms.get(userId);
    return typeof rooms === 'string' ? [rooms] : [...(rooms?.keys() ?? [])];
  }

  /** Adds `delta` to a user's count of members in a room; returns the new count. */
  private countUser(userId: string | undefined, room: string, delta: number): number {
    if (userId === undefined) return 0;
    const entry = this.userRooms.get(userId);
    if (entry === undefined || entry === room) {
      // The common case, one member connection in one room, without a Map.
      const count = (entry === undefined ? 0 : 1) + delta;
      if (count <= 0) this.userRooms.delete(userId);
      else this.userRooms.set(userId, count === 1 ? room : new Map([[room, count]]));
      return count;
    }
    const rooms = typeof entry === 'string' ? new Map([[entry, 1]]) : entry;
    const count = (rooms.get(room) ?? 0) + delta;
    if (count > 0) rooms.set(room, count);
    else rooms.delete(room);
    const [only] = rooms;
    if (!only) this.userRooms.delete(userId);
    else this.userRooms.set(userId, rooms.size === 1 && only[1] === 1 ? only[0] : rooms);
    return count;
  }
}

function toRecord(name: string, room: MemoryRoom): RoomRecord {
  return { name, created: room.created, persistent: room.persistent, size: room.members.size };
}
