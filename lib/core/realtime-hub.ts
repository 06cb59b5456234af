import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { EnginePublication, RoomPublication } from '../engines/broker.interface.js';
import { RealtimeEngine, type StreamPosition } from '../engines/realtime-engine.interface.js';
import type { RoomMember, RoomRecord } from '../engines/room-store.interface.js';
import {
  BuiltinEvent,
  MAX_TIMER_DELAY,
  encodeFrame,
  type OutboundMessage,
  CloseCode,
  ErrorCode,
  RealtimeError,
  assertRoomName,
} from '../protocol/index.js';
import { REALTIME_OPTIONS } from '../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../realtime.options.js';
import { BroadcastOperator } from './broadcast-operator.js';
import { BROADCAST_CHANNEL, roomChannel, userChannel } from './channels.js';
import { ConnectionRegistry, type ChannelSubscriber } from './connection-registry.js';
import { NodeLink, nodeOf } from './node-link.js';
import type { RealtimeConnection } from './realtime-connection.js';
import { RetentionPolicy } from './history/retention-policy.js';

const NO_RECIPIENTS: readonly ChannelSubscriber[] = [];

/** How long a request to the node of another node's connection may take, in ms. */
const NODE_TIMEOUT = 5_000;

/**
 * How {@link RealtimeHub.join} replays: from `since`, or the `latest` kept messages.
 *
 * @example
 * ```ts
 * await hub.join(connectionId, 'lobby', { latest: 20 });
 * ```
 */
export interface JoinOptions {
  readonly since?: StreamPosition;
  readonly latest?: number;
}

/** Why a connection left a room. */
export type LeaveCause = 'leave' | 'disconnect' | 'delete';

/**
 * What a core service (presence) hears from the hub, after the engine has the
 * change. Calls are synchronous; a listener starts its own async work.
 */
export interface HubListener {
  connectionAdded?(connection: RealtimeConnection): void;
  connectionRemoved?(connection: RealtimeConnection): void;
  /** `firstOfUser`: the user had no other connection in the room. */
  roomJoined?(connection: RealtimeConnection, room: string, firstOfUser: boolean): void;
  /** `lastOfUser`: it was the user's last connection in the room. */
  roomLeft?(
    connection: RealtimeConnection,
    room: string,
    lastOfUser: boolean,
    cause: LeaveCause,
  ): void;
}

/**
 * A room as the hub reports it.
 *
 * @example
 * ```ts
 * const info: RoomInfo = await hub.join(client, 'lobby');
 * console.log(info.size, new Date(info.created));
 * ```
 */
export type RoomInfo = RoomRecord;

/**
 * What joining a room says: the room, where its stream stands (the offset of its
 * last message), and with `since`, whether every missed message was replayed.
 *
 * @example
 * ```ts
 * const joined = await hub.join(client, 'lobby', { since: { epoch: 'k3Jx', offset: 41 } });
 * if (joined.recovered === false) client.emit('resync', { room: 'lobby' });
 * ```
 */
export interface RoomJoin extends RoomInfo, StreamPosition {
  /** Only with `since`: true when the missed messages were all sent, in order. */
  readonly recovered?: boolean;
}

/**
 * A room's kept messages, as server code reads them.
 *
 * @example
 * ```ts
 * const { messages } = await hub.roomHistory('lobby');
 * for (const { offset, event, data } of messages) console.log(offset, event, data);
 * ```
 */
export interface RoomHistory extends StreamPosition {
  readonly recovered: boolean;
  readonly messages: readonly {
    readonly offset: number;
    readonly event: string;
    readonly data?: unknown;
  }[];
}

/**
 * The core: rooms, membership and broadcast, for every transport. Inject it anywhere.
 * It holds this node's connections and their rooms; the engine holds what spans
 * nodes. It never touches a socket: transports hand it connections.
 *
 * @example
 * ```ts
 * @WebSocketGateway()
 * export class ChatGateway {
 *   constructor(private readonly hub: RealtimeHub) {}
 *
 *   @SubscribeMessage('chat')
 *   chat(@ConnectedSocket() client: WsConnection, @MessageBody() body: { room: string; text: string }) {
 *     return this.hub.to(body.room).except(client).emit('chat', body);
 *   }
 * }
 * ```
 */
@Injectable()
export class RealtimeHub implements OnModuleInit, OnApplicationShutdown {
  /** This node's id; every connection id starts with it. */
  readonly nodeId = randomBytes(6).toString('base64url');
  /** This node's connections: list, count, by user. */
  readonly connections = new ConnectionRegistry();
  readonly maxRoomNameLength: number;

  private readonly logger = new Logger('RealtimeHub');
  private readonly maxRoomsPerConnection: number;
  private readonly retention: RetentionPolicy;
  private readonly recoveryLimit: number;
  private readonly everyone: BroadcastOperator;
  /** Engine subscriptions of this node, settled or in flight, by channel. */
  private readonly subscriptions = new Map<string, Promise<void>>();
  private readonly shutdownTimeout: number;
  /** Per connection whose principal expires, the timer that closes it then. */
  private readonly expiries = new Map<RealtimeConnection, NodeJS.Timeout>();
  /** Removals of connections still under way (awaited before the engine closes). */
  private readonly removals = new Set<Promise<void>>();
  /** @internal Requests and orders between this hub and the other nodes' hubs. */
  readonly link: NodeLink;
  private readonly listeners: HubListener[] = [];
  private sequence = 0;

  constructor(
    @Inject(RealtimeEngine) private readonly engine: RealtimeEngine,
    @Inject(REALTIME_OPTIONS) options: ResolvedRealtimeOptions,
  ) {
    this.maxRoomNameLength = options.rooms.maxNameLength;
    this.shutdownTimeout = options.shutdownTimeout;
    this.maxRoomsPerConnection = options.rooms.maxPerConnection;
    this.retention = new RetentionPolicy(options.history);
    this.recoveryLimit = options.history.recoveryLimit;
    this.everyone = new BroadcastOperator(this);
    this.link = new NodeLink(engine.controller, this.nodeId);
  }

  async onModuleInit(): Promise<void> {
    this.obeyOtherNodes();
    // The engine gets a handler of its own, not the hub: deliver is not public.
    // Orders of other nodes' hubs (to this node, and to all) come through `control`.
    await this.engine.start(this.nodeId, {
      deliver: (publication) => this.deliver(publication),
      lost: (channel, room, position) => this.lost(channel, room, position),
      control: (order) => this.link.receive(order),
    });
    await this.engine.broker.subscribe(BROADCAST_CHANNEL);
  }

  async onApplicationShutdown(): Promise<void> {
    this.link.close();
    // What the transports have not removed yet (a stream whose end is still on its way)
    // goes now, and every removal finishes, while the engine serves: the other nodes
    // see this node's rooms and presence go.
    for (const connection of this.connections.list()) void this.removeConnection(connection);
    // Bounded: an engine that does not answer must not hold the shutdown.
    const settled = Promise.allSettled(this.removals).then(() => true);
    const timedOut = delay(this.shutdownTimeout, false, { ref: false });
    if (!(await Promise.race([settled, timedOut]))) {
      this.logger.warn(
        `${this.removals.size} connections were still leaving their rooms after ${this.shutdownTimeout} ms: closing anyway`,
      );
    }
    await this.engine.close();
  }

  /**
   * Whether the engine serves now: false during an outage of the server behind it
   * (Redis), when every room, presence and cross-node call fails and is reported.
   * For a health check.
   */
  get engineAvailable(): boolean {
    return this.engine.available ?? true;
  }

  // -- broadcast ----------------------------------------------------------------

  /** An operator addressing one room, or several. */
  to(room: string | readonly string[]): BroadcastOperator {
    return this.everyone.to(room);
  }

  /** An operator addressing every connection of one user, or of several. */
  toUser(userId: string | readonly string[]): BroadcastOperator {
    return this.everyone.toUser(userId);
  }

  /** An operator addressing everyone but the given connection(s). */
  except(
    connection: RealtimeConnection | string | readonly (RealtimeConnection | string)[],
  ): BroadcastOperator {
    return this.everyone.except(connection);
  }

  /** Sends to every connection, on every node. */
  async emit(event: string, data?: unknown): Promise<void> {
    await this.everyone.emit(event, data);
  }

  /** Sends several messages to every connection, in one frame. */
  async emitBatch(messages: readonly OutboundMessage[]): Promise<void> {
    await this.everyone.emitBatch(messages);
  }

  /** @internal The way out of every operator. */
  publish(
    channels: readonly string[],
    frame: Buffer,
    except: readonly string[],
    volatile = false,
  ): Promise<void> {
    return this.engine.broker.publish({ channels, frame, except, volatile });
  }

  /** @internal The way out for a message to exactly one room: numbered, maybe kept. */
  publishToRoom({
    room,
    body,
    except,
    volatile,
  }: Pick<RoomPublication, 'room' | 'body' | 'except' | 'volatile'>): Promise<StreamPosition> {
    return this.engine.broker.publishToRoom({
      room,
      channel: roomChannel(room),
      body,
      except,
      retention: this.retention.for(room),
      now: Date.now(),
      volatile,
    });
  }

  /** Local fan-out of a publication, called by the engine. */
  private deliver({ channels, frame, except, position, volatile }: EnginePublication): void {
    if (channels.length === 1) {
      for (const connection of this.recipientsOf(channels[0]!)) {
        if (except.length > 0 && except.includes(connection.id)) continue;
        if (volatile && (connection as RealtimeConnection).congested) continue;
        // A connection replaying this room's history gets live frames after it.
        const held = position && (connection as RealtimeConnection).recovering?.get(position.room);
        if (held) held.push({ offset: position.offset, frame });
        else connection.send(frame);
      }
      return;
    }
    // Several channels: a connection in two of them must get the frame once.
    const sent = new Set<ChannelSubscriber>();
    for (const channel of channels) {
      for (const connection of this.recipientsOf(channel)) {
        if (sent.has(connection) || except.includes(connection.id)) continue;
        if (volatile && (connection as RealtimeConnection).congested) continue;
        sent.add(connection);
        connection.send(frame);
      }
    }
  }

  /**
   * The engine lost messages of a room for this node (its link to the other nodes
   * dropped, and they are no longer kept): each local member is told where the room
   * goes on from, with `rt:resync`, before any later message of the room.
   */
  private lost(channel: string, room: string, { epoch, offset }: StreamPosition): void {
    const frame = encodeFrame({ event: BuiltinEvent.Resync, data: { room, epoch, offset } });
    for (const connection of this.recipientsOf(channel)) connection.send(frame);
  }

  private recipientsOf(channel: string): Iterable<ChannelSubscriber> {
    if (channel === BROADCAST_CHANNEL) return this.connections.list();
    return this.connections.subscribers(channel) ?? NO_RECIPIENTS;
  }

  // -- connections --------------------------------------------------------------

  /** @internal A fresh connection id, unique across nodes. */
  nextConnectionId(): string {
    return `${this.nodeId}.${++this.sequence}`;
  }

  /**
   * @internal Registers a transport's new connection. The registration itself is
   * synchronous, so limits checked just before it cannot be raced; the promise
   * settles when the engine knows too.
   */
  addConnection(connection: RealtimeConnection): Promise<void> {
    this.connections.add(connection);
    this.expireWithItsCredentials(connection);
    const { userId } = connection;
    // Listed under its user before anyone hears of it (delivery sends to the user's connections).
    const subscribed =
      userId === undefined
        ? Promise.resolve()
        : this.subscribeChannel(userChannel(userId), connection);
    this.notify((listener) => listener.connectionAdded?.(connection));
    return subscribed;
  }

  /** @internal Removes a closed connection from every room and from the registry. */
  removeConnection(connection: RealtimeConnection): Promise<void> {
    if (!this.connections.remove(connection)) return Promise.resolve();
    const removal = this.forget(connection);
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal)).catch(() => undefined);
    return removal;
  }

  /**
   * A principal with an `exp` claim (seconds since the epoch, a JWT's) holds only until
   * then: the connection is closed with 4401 (a transport's own way for SSE and gRPC),
   * and the client comes back with fresh credentials.
   */
  private expireWithItsCredentials(connection: RealtimeConnection): void {
    const { exp } = connection.principal;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return;
    // Always from a timer, even when it has passed already: never inside addConnection.
    const arm = () => {
      const left = Math.max(0, exp * 1_000 - Date.now());
      // setTimeout holds at most ~24.8 days: a longer wait looks again then.
      const timer = setTimeout(
        () => {
          if (exp * 1_000 > Date.now()) return arm();
          this.expiries.delete(connection);
          connection.close(CloseCode.TokenExpired, 'the credentials expired');
        },
        Math.min(left, MAX_TIMER_DELAY),
      );
      this.expiries.set(connection, timer.unref());
    };
    arm();
  }

  /** Takes a removed connection out of its rooms and channels, then tells the services. */
  private async forget(connection: RealtimeConnection): Promise<void> {
    clearTimeout(this.expiries.get(connection));
    this.expiries.delete(connection);
    const { userId } = connection;
    const rooms = [...connection.rooms];
    const work = rooms.map((room) => this.leaveRoom(connection, room, 'disconnect'));
    if (userId !== undefined) work.push(this.unsubscribeChannel(userChannel(userId), connection));
    await Promise.all(work);
    this.notify((listener) => listener.connectionRemoved?.(connection));
  }

  /** @internal Lets a core service (presence) follow connections and rooms. */
  addListener(listener: HubListener): void {
    this.listeners.push(listener);
  }

  /**
   * Closes a connection with close code 4500 (the client should not reconnect on
   * its own): one of this node, or, by its id, of another node of the engine.
   */
  disconnect(target: RealtimeConnection | string, reason = 'disconnected'): void {
    const connection = typeof target === 'string' ? this.connections.get(target) : target;
    if (connection) {
      connection.close(CloseCode.Disconnected, reason);
      return;
    }
    const node = this.remoteNode(target);
    if (node) this.link.tell(node, 'disconnect', { id: target, reason });
  }

  /** Closes every connection of a user, on every node, as {@link disconnect} does. */
  disconnectUser(userId: string, reason = 'disconnected'): void {
    this.closeUser(userId, reason);
    this.link.tell(undefined, 'disconnect-user', { userId, reason });
  }

  /**
   * @internal Sends a frame to one connection, of this node or, by id, of another
   * (fire and forget: a connection that is gone gets nothing).
   */
  sendTo(connectionId: string, frame: Buffer): void {
    const here = this.connections.get(connectionId);
    if (here) {
      here.send(frame);
      return;
    }
    const node = this.remoteNode(connectionId);
    if (node) this.link.tell(node, 'send', { to: connectionId, frame: frame.toString('utf8') });
  }

  /** @internal Whether other nodes may share the engine (false for a memory engine of its own). */
  get clustered(): boolean {
    return !this.engine.standalone;
  }

  /**
   * @internal The node of a connection id that is not open here but names another
   * node (ids are `<nodeId>.<counter>`); undefined otherwise.
   */
  remoteNode(target: RealtimeConnection | string): string | undefined {
    if (typeof target !== 'string' || this.engine.standalone || this.connections.get(target)) {
      return undefined;
    }
    const node = nodeOf(target);
    return node && node !== this.nodeId ? node : undefined;
  }

  private closeUser(userId: string, reason: string): void {
    for (const connection of this.connections.listByUser(userId)) {
      connection.close(CloseCode.Disconnected, reason);
    }
  }

  /** What this hub does for the hubs of other nodes (see {@link NodeLink}). */
  private obeyOtherNodes(): void {
    const link = this.link;
    link.handle('disconnect', ({ id, reason }: { id: string; reason: string }) => {
      this.connections.get(id)?.close(CloseCode.Disconnected, reason);
    });
    link.handle('disconnect-user', ({ userId, reason }: { userId: string; reason: string }) => {
      this.closeUser(userId, reason);
    });
    link.handle('room-deleted', ({ room }: { room: string }) => this.dropLocalMembers(room));
    link.handle(
      'join',
      ({ id, room, options }: { id: string; room: string; options: JoinOptions }) =>
        this.join(this.resolve(id), room, options),
    );
    link.handle('send', ({ to, frame }: { to: string; frame: string }) => {
      this.connections.get(to)?.send(Buffer.from(frame));
    });
    link.handle('leave', ({ id, room }: { id: string; room: string }) =>
      this.leave(this.resolve(id), room),
    );
  }

  // -- rooms --------------------------------------------------------------------

  /**
   * Puts a connection in a room, creating the room if needed. Joining a room twice
   * is harmless. With `since`, the messages missed after it are sent first (see
   * `recovered`); with `latest` (and no `since`), the last `latest` kept messages are,
   * for a client that needs the room's recent state. Then live ones, with no gap.
   * A connection of another node, by id, is joined by its node.
   *
   * @throws RealtimeError ROOM_NAME_INVALID, ROOM_LIMIT_REACHED, INVALID_DATA (bad
   *   `latest`; a replaying join of this room is running already; no such connection),
   *   NODE_UNAVAILABLE (the connection's node did not answer).
   */
  async join(
    target: RealtimeConnection | string,
    room: string,
    options: JoinOptions = {},
  ): Promise<RoomJoin> {
    const node = this.remoteNode(target);
    if (node) {
      const payload = { id: target, room, options };
      return (await this.link.ask(node, 'join', payload, NODE_TIMEOUT)) as RoomJoin;
    }
    const { since, latest = 0 } = options;
    const connection = this.resolve(target);
    assertRoomName(room, this.maxRoomNameLength);
    if (!Number.isSafeInteger(latest) || latest < 0 || latest > this.recoveryLimit) {
      throw new RealtimeError(
        ErrorCode.InvalidData,
        `latest must be an integer from 0 to ${this.recoveryLimit}`,
      );
    }
    const replay = since !== undefined || latest > 0;
    if (!connection.rooms.has(room) && connection.rooms.size >= this.maxRoomsPerConnection) {
      throw new RealtimeError(
        ErrorCode.RoomLimitReached,
        `a connection may be in ${this.maxRoomsPerConnection} rooms at most`,
      );
    }
    if (replay && connection.recovering?.has(room)) {
      throw new RealtimeError(ErrorCode.InvalidData, `room "${room}" is being recovered already`);
    }
    const already = connection.rooms.has(room);
    connection.roomSet.add(room);
    // From the subscription on, live frames wait until the missed ones are sent.
    // (A member already receives live frames: nothing to hold, nothing to replay.)
    const held: { offset: number; frame: Buffer }[] | undefined =
      replay && !already ? [] : undefined;
    if (held) (connection.recovering ??= new Map()).set(room, held);
    const member: RoomMember = {
      connectionId: connection.id,
      userId: connection.userId,
      nodeId: this.nodeId,
      joinedAt: Date.now(),
    };
    try {
      await this.subscribeChannel(roomChannel(room), connection, room);
      const { room: record, firstOfUser } = await this.engine.rooms.addMember(room, member);
      // The connection may have closed or left while the engine worked: undo.
      if (!this.connections.has(connection) || !connection.rooms.has(room)) {
        await this.engine.rooms.removeMember(room, connection.id);
      } else {
        this.notify((listener) => listener.roomJoined?.(connection, room, firstOfUser));
      }
      const limit = since ? this.recoveryLimit : latest;
      const read = await this.engine.broker.readRoom(room, since, limit, Date.now());
      if (!held) {
        const joined = { ...record, epoch: read.epoch, offset: read.offset };
        // A member asking again: it got the live messages; nothing is replayed to it.
        return since
          ? { ...joined, recovered: read.recovered && read.messages.length === 0 }
          : joined;
      }
      this.stopHolding(connection, room);
      if (read.recovered) {
        for (const { frame } of read.messages) connection.send(frame);
        // Live frames the read already covered are not sent twice.
        for (const { offset, frame } of held) if (offset > read.offset) connection.send(frame);
      } else {
        for (const { frame } of held) connection.send(frame); // live ones flow regardless
      }
      const joined = { ...record, epoch: read.epoch, offset: read.offset };
      return since ? { ...joined, recovered: read.recovered } : joined;
    } catch (error) {
      if (held) this.stopHolding(connection, room);
      // Undo this join only: a membership from an earlier join stays.
      if (!already) await this.leaveRoom(connection, room, 'leave').catch(() => undefined);
      throw error;
    }
  }

  private stopHolding(connection: RealtimeConnection, room: string): void {
    connection.recovering?.delete(room);
    if (connection.recovering?.size === 0) connection.recovering = undefined;
  }

  /**
   * A room's kept messages after `since` (without it, the last ones kept), at most
   * `limit`, oldest first; `recovered` as for a join.
   */
  async roomHistory(
    room: string,
    { since, limit = this.recoveryLimit }: { since?: StreamPosition; limit?: number } = {},
  ): Promise<RoomHistory> {
    const read = await this.engine.broker.readRoom(room, since, limit, Date.now());
    const messages = read.messages.map(({ offset, frame }) => {
      const { event, data } = JSON.parse(frame.toString()) as { event: string; data?: unknown };
      return { offset, event, data };
    });
    return { epoch: read.epoch, offset: read.offset, recovered: read.recovered, messages };
  }

  /**
   * Takes a connection out of a room (one of another node, by id, through its node).
   * Resolves false if it was not in it.
   *
   * @throws RealtimeError INVALID_DATA (no such connection), NODE_UNAVAILABLE.
   */
  async leave(target: RealtimeConnection | string, room: string): Promise<boolean> {
    const node = this.remoteNode(target);
    if (node)
      return (await this.link.ask(node, 'leave', { id: target, room }, NODE_TIMEOUT)) as boolean;
    const connection = this.resolve(target);
    if (!connection.rooms.has(room)) return false;
    await this.leaveRoom(connection, room, 'leave');
    return true;
  }

  /** Creates a room that stays when empty (rooms made by a join go with their last member). */
  createRoom(room: string): Promise<RoomInfo> {
    assertRoomName(room, this.maxRoomNameLength);
    return this.engine.rooms.create(room, Date.now());
  }

  /**
   * Deletes a room: this node's members leave it, and the engine forgets it.
   * Resolves false if there was no such room.
   */
  async deleteRoom(room: string): Promise<boolean> {
    const existed = (await this.engine.rooms.get(room)) !== undefined;
    await this.dropLocalMembers(room);
    await this.engine.rooms.delete(room);
    // The members on other nodes leave too.
    this.link.tell(undefined, 'room-deleted', { room });
    return existed;
  }

  /** This node's members of a room leave it (the room was deleted). */
  private async dropLocalMembers(room: string): Promise<void> {
    const local = this.connections.subscribers(roomChannel(room));
    await Promise.all(
      [...(local ?? [])].map((subscriber) =>
        this.leaveRoom(subscriber as RealtimeConnection, room, 'delete'),
      ),
    );
  }

  /** The room's record, or undefined if there is no such room. */
  roomInfo(room: string): Promise<RoomInfo | undefined> {
    return this.engine.rooms.get(room);
  }

  /** Every member connection of a room, on every node, in join order. */
  roomMembers(room: string): Promise<RoomMember[]> {
    return this.engine.rooms.members(room);
  }

  /** The distinct user ids among a room's members (anonymous members are not listed). */
  async roomUsers(room: string): Promise<string[]> {
    const members = await this.engine.rooms.members(room);
    const users = new Set<string>();
    for (const { userId } of members) if (userId !== undefined) users.add(userId);
    return [...users];
  }

  /** The rooms a connection of this node is in. */
  connectionRooms(target: RealtimeConnection | string): string[] {
    return [...this.resolve(target).rooms];
  }

  /** A connection of this node that is still open, by object or id. */
  private resolve(target: RealtimeConnection | string): RealtimeConnection {
    const connection = typeof target === 'string' ? this.connections.get(target) : target;
    if (!connection || !this.connections.has(connection)) {
      const id = typeof target === 'string' ? target : target.id;
      throw new RealtimeError(ErrorCode.InvalidData, `no connection "${id}" is open on this node`);
    }
    return connection;
  }

  private async leaveRoom(
    connection: RealtimeConnection,
    room: string,
    cause: LeaveCause,
  ): Promise<void> {
    connection.roomSet.delete(room);
    const [, { removed, lastOfUser }] = await Promise.all([
      this.unsubscribeChannel(roomChannel(room), connection),
      this.engine.rooms.removeMember(room, connection.id),
    ]);
    // A deleted room is gone from the engine before other nodes hear of it: their
    // members left all the same.
    if (removed || cause === 'delete')
      this.notify((listener) => listener.roomLeft?.(connection, room, lastOfUser, cause));
  }

  private notify(call: (listener: HubListener) => void): void {
    for (const listener of this.listeners) {
      try {
        call(listener);
      } catch (error) {
        this.logger.error('a hub listener failed', error instanceof Error ? error.stack : error);
      }
    }
  }

  /** @internal Adds a local subscriber; the first one on this node subscribes the node. */
  subscribeChannel(channel: string, subscriber: ChannelSubscriber, room?: string): Promise<void> {
    if (this.connections.subscribe(channel, subscriber)) {
      const subscribed = this.engine.broker.subscribe(channel, room);
      this.subscriptions.set(channel, subscribed);
      // A failed subscription must not fail the channel's later subscribers too.
      subscribed.catch(() => {
        if (this.subscriptions.get(channel) === subscribed) this.subscriptions.delete(channel);
      });
      return subscribed;
    }
    return this.subscriptions.get(channel) ?? Promise.resolve();
  }

  /** @internal Removes a local subscriber; the last one on this node unsubscribes the node. */
  async unsubscribeChannel(channel: string, subscriber: ChannelSubscriber): Promise<void> {
    if (!this.connections.unsubscribe(channel, subscriber)) return;
    this.subscriptions.delete(channel);
    await this.engine.broker.unsubscribe(channel).catch((error: unknown) => {
      this.logger.warn(`engine could not unsubscribe ${channel}: ${String(error)}`);
    });
  }
}
