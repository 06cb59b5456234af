import type {
  ChosenStatus,
  HistoryRetention,
  RoomRead,
  StreamPosition,
  EngineHandler,
  EnginePublication,
  PresenceEntry,
  PresenceMeta,
  PresenceRecord,
  RealtimeEngine,
  RoomMember,
  RoomRecord,
} from '../realtime-engine.interface.js';
import { MemoryPresence } from './memory-presence.js';
import { MemoryRooms } from './memory-rooms.js';
import { MemoryStreams } from './memory-streams.js';

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
  private readonly rooms = new MemoryRooms();
  private readonly presence = new MemoryPresence();
  private readonly streams = new MemoryStreams();
  /** Trims aged history and forgets idle streams. */
  private sweeper: NodeJS.Timeout | undefined;

  async start(handler: EngineHandler): Promise<void> {
    this.handler = handler;
    this.sweeper = setInterval(() => this.streams.sweep(Date.now()), 1_000).unref();
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.handler = undefined;
    this.rooms.clear();
    this.presence.clear();
    this.streams.clear();
  }

  async publish(publication: EnginePublication): Promise<void> {
    // One node: it is the only subscriber there is, and the hub filters by channel.
    this.handler?.deliver(publication);
  }

  async publishToRoom(
    room: string,
    channel: string,
    body: Buffer,
    except: readonly string[],
    retention: HistoryRetention,
    now: number,
    volatile = false,
  ): Promise<StreamPosition> {
    const { position, frame } = this.streams.append(room, body, retention, now);
    this.handler?.deliver({
      channels: [channel],
      frame,
      except,
      volatile,
      position: { room, offset: position.offset },
    });
    return position;
  }

  async readRoom(
    room: string,
    since: StreamPosition | undefined,
    limit: number,
    now: number,
  ): Promise<RoomRead> {
    return this.streams.read(room, since, limit, now);
  }

  async subscribe(): Promise<void> {}

  async unsubscribe(): Promise<void> {}

  async createRoom(room: string, now: number): Promise<RoomRecord> {
    return this.rooms.create(room, now);
  }

  async deleteRoom(room: string): Promise<boolean> {
    return this.rooms.delete(room);
  }

  async addMember(room: string, member: RoomMember) {
    return this.rooms.add(room, member);
  }

  async removeMember(room: string, connectionId: string) {
    return this.rooms.remove(room, connectionId);
  }

  async getRoom(room: string): Promise<RoomRecord | undefined> {
    return this.rooms.get(room);
  }

  async getMembers(room: string): Promise<RoomMember[]> {
    return this.rooms.members(room);
  }

  async getUserRooms(userId: string): Promise<string[]> {
    return this.rooms.roomsOf(userId);
  }

  async addPresence(entry: PresenceEntry, now: number) {
    return this.presence.add(entry, now);
  }

  async removePresence(userId: string, connectionId: string, now: number): Promise<void> {
    this.presence.remove(userId, connectionId, now);
  }

  async refreshPresence(entries: readonly PresenceEntry[]): Promise<void> {
    this.presence.refresh(entries);
  }

  async setPresenceStatus(
    userId: string,
    status: ChosenStatus,
    meta: PresenceMeta | null,
    now: number,
  ) {
    return this.presence.setStatus(userId, status, meta, now);
  }

  async getPresence(userIds: readonly string[]): Promise<(PresenceRecord | undefined)[]> {
    return this.presence.get(userIds);
  }

  async expirePresence(now: number, offlineDelay: number): Promise<PresenceRecord[]> {
    return this.presence.expire(now, offlineDelay);
  }
}
