import type {
  EngineHandler,
  EnginePublication,
  RealtimeEngine,
  RoomMember,
  RoomRecord,
} from '../realtime-engine.interface.js';

interface MemoryRoom {
  readonly created: number;
  persistent: boolean;
  /** Keyed by connection id; a Map keeps join order. */
  readonly members: Map<string, RoomMember>;
}

/**
 * The embedded engine: one node, everything in this process, nothing to install.
 * Publications are delivered synchronously, inside `publish`, so a message emitted
 * by a handler has reached every local socket's buffer when the handler returns.
 *
 * @example
 * ```ts
 * RealtimeModule.forRoot({ engine: { type: 'memory' } }) // the default
 * ```
 */
export class MemoryEngine implements RealtimeEngine {
  private handler: EngineHandler | undefined;
  private readonly rooms = new Map<string, MemoryRoom>();

  async start(handler: EngineHandler): Promise<void> {
    this.handler = handler;
  }

  async close(): Promise<void> {
    this.handler = undefined;
    this.rooms.clear();
  }

  async publish(publication: EnginePublication): Promise<void> {
    // One node: it is the only subscriber there is, and the hub filters by channel.
    this.handler?.deliver(publication);
  }

  async subscribe(): Promise<void> {}

  async unsubscribe(): Promise<void> {}

  async createRoom(room: string, now: number): Promise<RoomRecord> {
    const existing = this.rooms.get(room);
    if (existing) {
      existing.persistent = true;
      return toRecord(room, existing);
    }
    const created: MemoryRoom = { created: now, persistent: true, members: new Map() };
    this.rooms.set(room, created);
    return toRecord(room, created);
  }

  async deleteRoom(room: string): Promise<boolean> {
    return this.rooms.delete(room);
  }

  async addMember(room: string, member: RoomMember): Promise<RoomRecord> {
    let entry = this.rooms.get(room);
    if (!entry) {
      entry = { created: member.joinedAt, persistent: false, members: new Map() };
      this.rooms.set(room, entry);
    }
    if (!entry.members.has(member.connectionId)) entry.members.set(member.connectionId, member);
    return toRecord(room, entry);
  }

  async removeMember(room: string, connectionId: string): Promise<boolean> {
    const entry = this.rooms.get(room);
    if (!entry?.members.delete(connectionId)) return false;
    if (entry.members.size === 0 && !entry.persistent) this.rooms.delete(room);
    return true;
  }

  async getRoom(room: string): Promise<RoomRecord | undefined> {
    const entry = this.rooms.get(room);
    return entry && toRecord(room, entry);
  }

  async getMembers(room: string): Promise<RoomMember[]> {
    return [...(this.rooms.get(room)?.members.values() ?? [])];
  }
}

function toRecord(name: string, room: MemoryRoom): RoomRecord {
  return {
    name,
    created: room.created,
    persistent: room.persistent,
    size: room.members.size,
  };
}
