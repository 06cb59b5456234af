/**
 * The room store: room records and their members, which may span nodes.
 *
 * Rules every implementation keeps:
 * - Calls take effect in the order one node makes them (a join followed by a leave
 *   never ends with the member present).
 * - Each call is atomic across nodes: two nodes adding the last two members of a
 *   user, or removing them, see exactly one `firstOfUser` / `lastOfUser`.
 * - Promises reject only when the store could not do what was asked.
 *
 * @example
 * ```ts
 * const { room, firstOfUser } = await engine.rooms.addMember('lobby', member);
 * ```
 */
export interface RoomStore {
  /**
   * Creates a room that stays when empty, or marks an existing one so. Idempotent:
   * an existing room keeps its `created` time.
   */
  create(room: string, now: number): Promise<RoomRecord>;

  /** Forgets a room and all its members. Resolves false if there was none. */
  delete(room: string): Promise<boolean>;

  /**
   * Adds a member, creating the room (not persistent) if it did not exist. Adding
   * the same connection twice leaves one member. `firstOfUser` is true when the
   * member's user had no other connection in the room.
   */
  addMember(room: string, member: RoomMember): Promise<{ room: RoomRecord; firstOfUser: boolean }>;

  /**
   * Removes a member; a room that is not persistent disappears with its last
   * member. `removed` is false if the connection was not a member; `lastOfUser` is
   * true when it was its user's last connection in the room.
   */
  removeMember(
    room: string,
    connectionId: string,
  ): Promise<{ removed: boolean; lastOfUser: boolean }>;

  /** The room's record, or undefined if there is no such room. */
  get(room: string): Promise<RoomRecord | undefined>;

  /** The members of a room, in the order they joined; empty if there is no room. */
  members(room: string): Promise<RoomMember[]>;

  /** The rooms in which a user has at least one member connection, on any node. */
  roomsOf(userId: string): Promise<string[]>;
}

/**
 * A room as the room store keeps it.
 *
 * @example
 * ```ts
 * const room: RoomRecord | undefined = await engine.rooms.get('lobby');
 * ```
 */
export interface RoomRecord {
  readonly name: string;
  /** Creation time, in milliseconds since the epoch. */
  readonly created: number;
  /** True for a room made by `create`: it stays when empty. */
  readonly persistent: boolean;
  /** Number of member connections, across every node. */
  readonly size: number;
}

/**
 * One connection's membership of a room.
 *
 * @example
 * ```ts
 * const members: RoomMember[] = await hub.roomMembers('lobby');
 * const onNode = members.filter((m) => m.nodeId === hub.nodeId);
 * ```
 */
export interface RoomMember {
  readonly connectionId: string;
  readonly userId?: string;
  /** The node that holds the connection. */
  readonly nodeId: string;
  /** When it joined, in milliseconds since the epoch. */
  readonly joinedAt: number;
}
