import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { PublicationOrigin, RoomPublication } from '../engines/broker.interface.js';
import { RealtimeEngine, type StreamPosition } from '../engines/realtime-engine.interface.js';
import type { RoomMember } from '../engines/room-store.interface.js';
import {
  type OutboundMessage,
  CloseCode,
  ErrorCode,
  RealtimeError,
  assertRoomName,
  type OutboundFrame,
} from '../protocol/index.js';
import { REALTIME_OPTIONS } from '../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../realtime.options.js';
import { BroadcastOperator } from './broadcast-operator.js';
import { BROADCAST_CHANNEL, roomChannel, userChannel } from './channels.js';
import { ConnectionRegistry, type ChannelSubscriber } from './connection-registry.js';
import { CredentialExpiry } from './hub/credential-expiry.js';
import { HubListeners, type HubListener } from './hub/hub-listeners.js';
import { LocalFanOut } from './hub/local-fan-out.js';
import { NodeOrders } from './hub/node-orders.js';
import { RoomJoins, type JoinOptions, type RoomInfo, type RoomJoin } from './hub/room-joins.js';
import { NodeLink, nodeOf } from './node-link.js';
import { RealtimeMetrics } from './metrics/realtime-metrics.js';
import { RealtimeTracing } from './tracing/realtime-tracing.js';
import type { RealtimeConnection } from './realtime-connection.js';
import { RetentionPolicy } from './history/retention-policy.js';
import { historyOf, type RoomHistory } from './history/room-history.js';

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
  private readonly retention: RetentionPolicy;
  private readonly recoveryLimit: number;
  private readonly everyone: BroadcastOperator;
  private readonly shutdownTimeout: number;
  /** Removals of connections still under way (awaited before the engine closes). */
  private readonly removals = new Set<Promise<void>>();
  /** @internal Requests and orders between this hub and the other nodes' hubs. */
  readonly link: NodeLink;
  private readonly orders: NodeOrders;
  private readonly listeners = new HubListeners();
  private readonly fanOut: LocalFanOut;
  private readonly joins: RoomJoins;
  private readonly expiry = new CredentialExpiry();
  private sequence = 0;

  constructor(
    @Inject(RealtimeEngine) private readonly engine: RealtimeEngine,
    @Inject(REALTIME_OPTIONS) options: ResolvedRealtimeOptions,
    /** @internal What the library counts (read by the metrics exporters). */
    readonly metrics: RealtimeMetrics,
    /** @internal The library's spans (publish, delivery, join, RPC, handshake). */
    readonly tracing: RealtimeTracing,
  ) {
    metrics.follow(this.connections, () => this.engineAvailable);
    this.maxRoomNameLength = options.rooms.maxNameLength;
    this.shutdownTimeout = options.shutdownTimeout;
    this.retention = new RetentionPolicy(options.history);
    this.recoveryLimit = options.history.recoveryLimit;
    this.everyone = new BroadcastOperator(this);
    this.link = new NodeLink(engine.controller, this.nodeId, metrics.nodeOrderRoundTrip);
    this.orders = new NodeOrders(this.link);
    this.fanOut = new LocalFanOut(this.connections, engine.broker, this.nodeId, metrics, tracing);
    this.joins = new RoomJoins(
      this.nodeId,
      this.connections,
      engine,
      this.fanOut,
      this.listeners,
      metrics,
      tracing,
      {
        maxNameLength: options.rooms.maxNameLength,
        maxPerConnection: options.rooms.maxPerConnection,
        recoveryLimit: this.recoveryLimit,
      },
    );
  }

  async onModuleInit(): Promise<void> {
    this.obeyOtherNodes();
    // The engine gets a handler of its own, not the hub: fan-out is not public. Orders
    // of other nodes' hubs (to this node, and to all) come through `control`.
    await this.engine.start(this.nodeId, {
      deliver: (publication) => this.fanOut.deliver(publication),
      lost: (channel, room, position) => this.fanOut.lost(channel, room, position),
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
    if (!(await this.removalsSettled())) {
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
    frame: OutboundFrame,
    except: readonly string[],
    volatile = false,
    trace?: string,
  ): Promise<void> {
    const facts = frame.facts ?? undefined;
    const origin = this.origin(trace);
    return this.engine.broker.publish({
      channels,
      frame: frame.bytes,
      except,
      volatile,
      facts,
      origin,
    });
  }

  /** @internal The way out for a message to exactly one room: numbered, maybe kept. */
  publishToRoom({
    room,
    body,
    except,
    volatile,
    facts,
    trace,
  }: Pick<RoomPublication, 'room' | 'body' | 'except' | 'volatile' | 'facts'> & {
    trace?: string;
  }): Promise<StreamPosition> {
    return this.engine.broker.publishToRoom({
      room,
      channel: roomChannel(room),
      body,
      except,
      retention: this.retention.for(room),
      now: Date.now(),
      volatile,
      facts,
      origin: this.origin(trace),
    });
  }

  /**
   * This node, now, and the publish span's context: what a publication carries for the
   * pub/sub lag measured where it arrives, and for the delivery spans there.
   */
  private origin(trace: string | undefined): PublicationOrigin {
    const at = performance.timeOrigin + performance.now();
    return trace === undefined ? { node: this.nodeId, at } : { node: this.nodeId, at, trace };
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
    this.metrics.opened(connection);
    this.expiry.watch(connection);
    const { userId } = connection;
    // Listed under its user before anyone hears of it (delivery sends to the user's connections).
    const subscribed =
      userId === undefined
        ? Promise.resolve()
        : this.fanOut.subscribe(userChannel(userId), connection);
    this.listeners.notify((listener) => listener.connectionAdded?.(connection));
    return subscribed;
  }

  /**
   * @internal Resolves true once every removal under way has finished, or false after
   * `shutdownTimeout`: an engine that does not answer must not hold the shutdown.
   */
  removalsSettled(): Promise<boolean> {
    const settled = Promise.allSettled(this.removals).then(() => true);
    return Promise.race([settled, delay(this.shutdownTimeout, false, { ref: false })]);
  }

  /** @internal Removes a closed connection from every room and from the registry. */
  removeConnection(connection: RealtimeConnection): Promise<void> {
    if (!this.connections.remove(connection)) return Promise.resolve();
    this.metrics.closed(connection);
    const removal = this.forget(connection);
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal)).catch(() => undefined);
    return removal;
  }

  /** Takes a removed connection out of its rooms and channels, then tells the services. */
  private async forget(connection: RealtimeConnection): Promise<void> {
    this.expiry.forget(connection);
    const { userId } = connection;
    const rooms = [...connection.rooms];
    const work = rooms.map((room) => this.joins.leave(connection, room, 'disconnect'));
    if (userId !== undefined) work.push(this.fanOut.unsubscribe(userChannel(userId), connection));
    await Promise.all(work);
    this.listeners.notify((listener) => listener.connectionRemoved?.(connection));
  }

  /** @internal Lets a core service (presence) follow connections and rooms. */
  addListener(listener: HubListener): void {
    this.listeners.add(listener);
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
    if (node) this.orders.disconnect(node, target as string, reason);
  }

  /** Closes every connection of a user, on every node, as {@link disconnect} does. */
  disconnectUser(userId: string, reason = 'disconnected'): void {
    this.closeUser(userId, reason);
    this.orders.disconnectUser(userId, reason);
  }

  /**
   * @internal Sends a frame to one connection, of this node or, by id, of another
   * (fire and forget: a connection that is gone gets nothing).
   */
  sendTo(connectionId: string, frame: OutboundFrame): void {
    const here = this.connections.get(connectionId);
    if (here) {
      here.send(frame);
      return;
    }
    const node = this.remoteNode(connectionId);
    if (node) this.orders.send(node, connectionId, frame);
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

  /** What this hub does for the hubs of other nodes, each on its own connections. */
  private obeyOtherNodes(): void {
    this.orders.obey({
      disconnect: (id, reason) => this.connections.get(id)?.close(CloseCode.Disconnected, reason),
      disconnectUser: (userId, reason) => this.closeUser(userId, reason),
      roomDeleted: (room) => this.joins.dropLocalMembers(room),
      join: (id, room, options) => this.join(this.resolve(id), room, options),
      leave: (id, room) => this.leave(this.resolve(id), room),
      send: (to, frame) => this.connections.get(to)?.send(frame),
    });
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
    if (node) return this.orders.join(node, target as string, room, options);
    return this.joins.join(this.resolve(target), room, options);
  }

  /**
   * A room's kept messages after `since` (without it, the last ones kept), at most
   * `limit`, oldest first; `recovered` as for a join.
   */
  async roomHistory(
    room: string,
    { since, limit = this.recoveryLimit }: { since?: StreamPosition; limit?: number } = {},
  ): Promise<RoomHistory> {
    this.metrics.historyReads.inc('api');
    return historyOf(await this.engine.broker.readRoom(room, since, limit, Date.now()));
  }

  /**
   * Takes a connection out of a room (one of another node, by id, through its node).
   * Resolves false if it was not in it.
   *
   * @throws RealtimeError INVALID_DATA (no such connection), NODE_UNAVAILABLE.
   */
  async leave(target: RealtimeConnection | string, room: string): Promise<boolean> {
    const node = this.remoteNode(target);
    if (node) return this.orders.leave(node, target as string, room);
    const connection = this.resolve(target);
    if (!connection.rooms.has(room)) return false;
    await this.joins.leave(connection, room, 'leave');
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
    await this.joins.dropLocalMembers(room);
    await this.engine.rooms.delete(room);
    // The members on other nodes leave too.
    this.orders.roomDeleted(room);
    return existed;
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

  /** @internal Adds a local subscriber; the first one on this node subscribes the node. */
  subscribeChannel(channel: string, subscriber: ChannelSubscriber, room?: string): Promise<void> {
    return this.fanOut.subscribe(channel, subscriber, room);
  }

  /** @internal Removes a local subscriber; the last one on this node unsubscribes the node. */
  unsubscribeChannel(channel: string, subscriber: ChannelSubscriber): Promise<void> {
    return this.fanOut.unsubscribe(channel, subscriber);
  }
}
