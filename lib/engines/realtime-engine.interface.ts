import type { StreamPosition } from '../protocol/stream-position.js';

export type { StreamPosition };

/**
 * The engine contract: the only seam between one process and many.
 *
 * A node (one running app) owns its connections; the engine connects nodes. It has
 * four parts:
 * - the broker: publish/subscribe between nodes, by channel;
 * - the room streams: every room message numbered (epoch, offset) and published in
 *   that order, with a bounded history for recovery;
 * - the room store: room records and their members, which may span nodes;
 * - the presence store: each user's status and live connections, with expiry.
 *
 * The engine never sees a connection object or a socket, only ids and encoded
 * frames; it pushes publications back through the narrow {@link EngineHandler}.
 * The in-memory engine is the default; a multi-node engine (Redis) implements the
 * same contract and must pass the same conformance suite.
 *
 * Rules every implementation keeps:
 * - Calls take effect in the order they are made by one node (a join followed by
 *   a leave never ends with the member present).
 * - Publications to a channel from one node reach every other node in the order
 *   they were published.
 * - A publication reaches a node at most once, however many of its channels the
 *   node subscribes to, and only if it subscribes to at least one of them. The
 *   broadcast channel `*` is subscribed by every node from `start` on.
 * - Promises reject only when the engine could not do what was asked (e.g. the
 *   server behind it is unreachable); the caller reports or rolls back.
 */
export interface RealtimeEngine {
  /** Starts the engine; from then on it calls `handler.deliver` for this node. */
  start(handler: EngineHandler): Promise<void>;

  /** Stops delivering and releases every resource. Safe to call twice. */
  close(): Promise<void>;

  /**
   * Whether the engine can serve now (an engine on a server reports its outages);
   * absent means always.
   */
  readonly available?: boolean;

  /**
   * True when no other node can share this engine (a memory engine of its own): a
   * connection id that is not open here is closed, with no node to ask.
   */
  readonly standalone?: boolean;

  // -- broker -------------------------------------------------------------------

  /**
   * Publishes one encoded frame to channels. Resolves once the engine accepted it;
   * delivery to this node's own handler may happen before or after that.
   */
  publish(publication: EnginePublication): Promise<void>;

  /**
   * This node now has local interest in `channel` (its first local subscriber).
   * `room` names the room whose messages the channel carries, for a room's channel:
   * an engine whose link to the other nodes can drop (Redis) replays, once it is
   * back, the room's messages this node missed, in order and before later ones, and
   * reports with `handler.lost` what it can no longer replay.
   */
  subscribe(channel: string, room?: string): Promise<void>;

  /** This node no longer has local interest in `channel`. */
  unsubscribe(channel: string): Promise<void>;

  // -- room streams ---------------------------------------------------------------

  /**
   * Numbers one room message and publishes it to `channel`, atomically:
   * every node sees a room's messages in offset order. `body` is the bytes of a
   * JSON object without its closing brace; the engine closes it with
   * `,"offset":<n>,"epoch":"<e>"}`, keeps the result in the room's history when
   * `retention` allows, and publishes that. Offsets start at 1 and increase by 1
   * per message within an epoch; the epoch changes whenever the room's numbering or
   * history was lost (an engine restart, an expired stream).
   */
  publishToRoom(
    room: string,
    channel: string,
    body: Buffer,
    except: readonly string[],
    retention: HistoryRetention,
    now: number,
    volatile?: boolean,
  ): Promise<StreamPosition>;

  /**
   * The room's position now, and the kept messages after `since` (at most `limit`),
   * oldest first. `recovered` is true when these are exactly all the messages after
   * `since`: same epoch, nothing trimmed in between, no more than `limit`. Without
   * `since`: the last `limit` kept messages, and `recovered` true.
   */
  readRoom(
    room: string,
    since: StreamPosition | undefined,
    limit: number,
    now: number,
  ): Promise<RoomRead>;

  // -- rooms --------------------------------------------------------------------

  /**
   * Creates a room that stays when empty, or marks an existing one so. Idempotent:
   * an existing room keeps its `created` time.
   */
  createRoom(room: string, now: number): Promise<RoomRecord>;

  /** Forgets a room and all its members. Resolves false if there was none. */
  deleteRoom(room: string): Promise<boolean>;

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
  getRoom(room: string): Promise<RoomRecord | undefined>;

  /** The members of a room, in the order they joined; empty if there is no room. */
  getMembers(room: string): Promise<RoomMember[]>;

  /** The rooms in which a user has at least one member connection, on any node. */
  getUserRooms(userId: string): Promise<string[]>;

  // -- presence -----------------------------------------------------------------
  //
  // A user is present while the store holds a record for them. A record lives while
  // the user has a live connection, and `offlineDelay` ms after the last one went
  // (so that a page reload is not seen as offline and online again). A node keeps
  // its connections alive by refreshing them; a node that dies stops doing so, and
  // its connections expire.

  /**
   * Records a live connection of a user, until `expiresAt` unless refreshed. The
   * user's record is created (status `online`) if there was none; `cameOnline`
   * says so.
   */
  addPresence(
    entry: PresenceEntry,
    now: number,
  ): Promise<{ record: PresenceRecord; cameOnline: boolean }>;

  /** Forgets one connection of a user; the record itself stays until it expires. */
  removePresence(userId: string, connectionId: string, now: number): Promise<void>;

  /** Pushes back the expiry of live connections (each node refreshes its own). */
  refreshPresence(entries: readonly PresenceEntry[]): Promise<void>;

  /**
   * Sets the status a user chose, for all their connections. Resolves undefined,
   * changing nothing, when the user has no record (is offline).
   */
  setPresenceStatus(
    userId: string,
    status: ChosenStatus,
    meta: PresenceMeta | null,
    now: number,
  ): Promise<{ previous: PresenceRecord; record: PresenceRecord } | undefined>;

  /** The records of these users, in the same order; undefined for an offline user. */
  getPresence(userIds: readonly string[]): Promise<(PresenceRecord | undefined)[]>;

  /**
   * Drops connections past their expiry, then the records of users who have had
   * no connection for `offlineDelay` ms, and resolves with those records. When
   * several nodes sweep at once, each record is returned to exactly one of them.
   */
  expirePresence(now: number, offlineDelay: number): Promise<PresenceRecord[]>;
}

/**
 * The injection token of the engine, sharing the interface's name.
 *
 * @example
 * ```ts
 * constructor(@Inject(RealtimeEngine) private readonly engine: RealtimeEngine) {}
 * ```
 */
export const RealtimeEngine = Symbol('realtime:engine');

/**
 * How much of a room's history to keep; `maxCount: 0` keeps none.
 *
 * @example
 * ```ts
 * const retention: HistoryRetention = { maxCount: 100, maxAge: 300_000 };
 * ```
 */
export interface HistoryRetention {
  /** Messages kept, at most. */
  readonly maxCount: number;
  /** How long a message is kept, in ms. */
  readonly maxAge: number;
}

/**
 * A read of a room's stream (see `readRoom`).
 *
 * @example
 * ```ts
 * const read = await engine.readRoom('lobby', since, 100, Date.now());
 * if (!read.recovered) resync();
 * ```
 */
export interface RoomRead extends StreamPosition {
  readonly recovered: boolean;
  /** The kept frames after `since`, oldest first, each with its offset. */
  readonly messages: readonly { readonly offset: number; readonly frame: Buffer }[];
}

/**
 * What an engine calls back into: the node's local fan-out.
 *
 * @example
 * ```ts
 * await engine.start({ deliver: (publication) => console.log(publication.channels) });
 * ```
 */
export interface EngineHandler {
  /** Delivers a publication to this node's local subscribers. Must not throw. */
  deliver(publication: EnginePublication): void;
  /**
   * Messages of `room` (subscribed through `channel`) were lost to this node and
   * cannot be replayed: its stream goes on after `position`. Must not throw.
   */
  lost?(channel: string, room: string, position: StreamPosition): void;
}

/**
 * One frame on its way to channels.
 *
 * @example
 * ```ts
 * await engine.publish({ channels: ['r:lobby'], frame: encodeFrame({ event: 'hi' }), except: [] });
 * ```
 */
export interface EnginePublication {
  readonly channels: readonly string[];
  /** The encoded frame, sent as is to every local recipient. */
  readonly frame: Buffer;
  /** Ids of connections that must not receive it. */
  readonly except: readonly string[];
  /** May be dropped for a connection that is behind (see `volatile` on operators). */
  readonly volatile?: boolean;
  /** For a room message (`publishToRoom`): its room, offset and epoch. */
  readonly position?: { readonly room: string; readonly offset: number; readonly epoch?: string };
}

/**
 * A room as the engine stores it.
 *
 * @example
 * ```ts
 * const room: RoomRecord | undefined = await engine.getRoom('lobby');
 * ```
 */
export interface RoomRecord {
  readonly name: string;
  /** Creation time, in milliseconds since the epoch. */
  readonly created: number;
  /** True for a room made by `createRoom`: it stays when empty. */
  readonly persistent: boolean;
  /** Number of member connections, across every node. */
  readonly size: number;
}

/** A status a user can choose; `offline` is what a user without a record is. */
export type ChosenStatus = 'online' | 'away' | 'busy' | 'invisible';

/** Free-form details a user attaches to their status (`{ activity: 'in a call' }`). */
export type PresenceMeta = Readonly<Record<string, unknown>>;

/**
 * One live connection of a user, as the presence store keeps it.
 *
 * @example
 * ```ts
 * await engine.addPresence({ userId: 'u1', connectionId: 'n1.1', nodeId: 'n1', expiresAt: now + 45_000 }, now);
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
 * const [record] = await engine.getPresence(['u1']);
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
