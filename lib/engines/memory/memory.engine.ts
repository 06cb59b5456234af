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
import { MemoryStore, type MemoryNode } from './memory-store.js';

/**
 * The embedded engine: everything in this process, nothing to install.
 * Publications are delivered synchronously, inside `publish`, so a message emitted
 * by a handler has reached every local socket's buffer when the handler returns.
 *
 * Each engine has a store of its own, unless it is given the name of a store to
 * share: then every app of this process that names the same store is a node of one
 * cluster (rooms, presence, history and messages in common), which is how tests
 * and demos run several nodes without Redis.
 *
 * @example
 * ```ts
 * RealtimeModule.forRoot({ engine: { type: 'memory' } }) // the default
 * RealtimeModule.forRoot({ engine: { type: 'memory', shared: 'demo' } }) // one of several apps
 * ```
 */
export class MemoryEngine implements RealtimeEngine {
  private node: MemoryNode | undefined;
  private readonly store: MemoryStore;

  /** True for a store of its own: no other node can exist. */
  readonly standalone: boolean;

  /** @param shared the name of a store shared within this process; none: a store of its own. */
  constructor(shared?: string) {
    this.store = MemoryStore.open(shared);
    this.standalone = shared === undefined;
  }

  async start(handler: EngineHandler): Promise<void> {
    if (this.node) this.store.detach(this.node);
    this.node = this.store.attach(handler);
    this.node.channels.add('*');
  }

  async close(): Promise<void> {
    if (!this.node) return;
    this.store.detach(this.node);
    this.node = undefined;
  }

  async publish(publication: EnginePublication): Promise<void> {
    this.store.deliver(this.node, publication);
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
    const { position, frame } = this.store.streams.append(room, body, retention, now);
    this.store.deliver(this.node, {
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
    return this.store.streams.read(room, since, limit, now);
  }

  async subscribe(channel: string): Promise<void> {
    this.node?.channels.add(channel);
  }

  async unsubscribe(channel: string): Promise<void> {
    this.node?.channels.delete(channel);
  }

  async createRoom(room: string, now: number): Promise<RoomRecord> {
    return this.store.rooms.create(room, now);
  }

  async deleteRoom(room: string): Promise<boolean> {
    return this.store.rooms.delete(room);
  }

  async addMember(room: string, member: RoomMember) {
    return this.store.rooms.add(room, member);
  }

  async removeMember(room: string, connectionId: string) {
    return this.store.rooms.remove(room, connectionId);
  }

  async getRoom(room: string): Promise<RoomRecord | undefined> {
    return this.store.rooms.get(room);
  }

  async getMembers(room: string): Promise<RoomMember[]> {
    return this.store.rooms.members(room);
  }

  async getUserRooms(userId: string): Promise<string[]> {
    return this.store.rooms.roomsOf(userId);
  }

  async addPresence(entry: PresenceEntry, now: number) {
    return this.store.presence.add(entry, now);
  }

  async removePresence(userId: string, connectionId: string, now: number): Promise<void> {
    this.store.presence.remove(userId, connectionId, now);
  }

  async refreshPresence(entries: readonly PresenceEntry[]): Promise<void> {
    this.store.presence.refresh(entries);
  }

  async setPresenceStatus(
    userId: string,
    status: ChosenStatus,
    meta: PresenceMeta | null,
    now: number,
  ) {
    return this.store.presence.setStatus(userId, status, meta, now);
  }

  async getPresence(userIds: readonly string[]): Promise<(PresenceRecord | undefined)[]> {
    return this.store.presence.get(userIds);
  }

  async expirePresence(now: number, offlineDelay: number): Promise<PresenceRecord[]> {
    return this.store.presence.expire(now, offlineDelay);
  }
}
