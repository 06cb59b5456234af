import type { RealtimeEngine, StreamPosition } from '../../engines/realtime-engine.interface.js';
import type { RoomMember, RoomRecord } from '../../engines/room-store.interface.js';
import { assertRoomName, ErrorCode, OutboundFrame, RealtimeError } from '../../protocol/index.js';
import { roomChannel } from '../channels.js';
import type { ConnectionRegistry } from '../connection-registry.js';
import type { RealtimeConnection } from '../realtime-connection.js';
import type { HubListeners, LeaveCause } from './hub-listeners.js';
import type { LocalFanOut } from './local-fan-out.js';
import type { RealtimeMetrics } from '../metrics/realtime-metrics.js';
import { SpanKind, type RealtimeSpan, type RealtimeTracing } from '../tracing/realtime-tracing.js';

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
 * The room limits a join checks.
 *
 * @example
 * ```ts
 * const limits: RoomLimits = { maxNameLength: 200, maxPerConnection: 100, recoveryLimit: 1_000 };
 * ```
 */
export interface RoomLimits {
  readonly maxNameLength: number;
  readonly maxPerConnection: number;
  /** The most messages a join replays. */
  readonly recoveryLimit: number;
}

/**
 * This node's connections joining and leaving rooms: the room store's member, the
 * node's subscription to the room's channel, and a replay of what a joining
 * connection missed, with the live messages that come meanwhile held until it is
 * done (no gap, no duplicate).
 *
 * @example
 * ```ts
 * const joined = await joins.join(connection, 'lobby', { since });
 * await joins.leave(connection, 'lobby', 'leave');
 * ```
 */
export class RoomJoins {
  constructor(
    private readonly nodeId: string,
    private readonly connections: ConnectionRegistry,
    private readonly engine: RealtimeEngine,
    private readonly fanOut: LocalFanOut,
    private readonly listeners: HubListeners,
    private readonly metrics: RealtimeMetrics,
    private readonly tracing: RealtimeTracing,
    private readonly limits: RoomLimits,
  ) {}

  /** Joins a connection of this node (see {@link RealtimeHub.join}). */
  async join(
    connection: RealtimeConnection,
    room: string,
    options: JoinOptions,
  ): Promise<RoomJoin> {
    const { since, latest = 0 } = options;
    const { maxNameLength, maxPerConnection, recoveryLimit } = this.limits;
    assertRoomName(room, maxNameLength);
    if (!Number.isSafeInteger(latest) || latest < 0 || latest > recoveryLimit) {
      throw new RealtimeError(
        ErrorCode.InvalidData,
        `latest must be an integer from 0 to ${recoveryLimit}`,
      );
    }
    const replay = since !== undefined || latest > 0;
    if (!connection.rooms.has(room) && connection.rooms.size >= maxPerConnection) {
      throw new RealtimeError(
        ErrorCode.RoomLimitReached,
        `a connection may be in ${maxPerConnection} rooms at most`,
      );
    }
    if (replay && connection.recovering?.has(room)) {
      throw new RealtimeError(ErrorCode.InvalidData, `room "${room}" is being recovered already`);
    }
    if (!replay) return this.enter(connection, room, options, undefined);
    const attributes = { 'realtime.room': room, 'realtime.transport': connection.transport };
    return this.tracing.around('realtime.join', SpanKind.Internal, attributes, (span) =>
      this.enter(connection, room, options, span),
    );
  }

  /** Joins, replaying what the options ask for; a replaying join's span hears how it went. */
  private async enter(
    connection: RealtimeConnection,
    room: string,
    { since, latest = 0 }: JoinOptions,
    span: RealtimeSpan | undefined,
  ): Promise<RoomJoin> {
    const { recoveryLimit } = this.limits;
    const replay = since !== undefined || latest > 0;
    const already = connection.rooms.has(room);
    connection.roomSet.add(room);
    // From the subscription on, live frames wait until the missed ones are sent.
    // (A member already receives live frames: nothing to hold, nothing to replay.)
    const held: { offset: number; frame: OutboundFrame }[] | undefined =
      replay && !already ? [] : undefined;
    if (held) (connection.recovering ??= new Map()).set(room, held);
    const member: RoomMember = {
      connectionId: connection.id,
      userId: connection.userId,
      nodeId: this.nodeId,
      joinedAt: Date.now(),
    };
    try {
      await this.fanOut.subscribe(roomChannel(room), connection, room);
      const { room: record, firstOfUser } = await this.engine.rooms.addMember(room, member);
      // The connection may have closed or left while the engine worked: undo.
      if (!this.connections.has(connection) || !connection.rooms.has(room)) {
        await this.engine.rooms.removeMember(room, connection.id);
      } else {
        if (!already) this.metrics.roomJoins.inc(connection.transport);
        this.listeners.notify((listener) => listener.roomJoined?.(connection, room, firstOfUser));
      }
      const limit = since ? recoveryLimit : latest;
      const read = await this.engine.broker.readRoom(room, since, limit, Date.now());
      this.metrics.historyReads.inc('join');
      if (!held) {
        const joined = { ...record, epoch: read.epoch, offset: read.offset };
        // A member asking again: it got the live messages; nothing is replayed to it.
        const recovered = read.recovered && read.messages.length === 0;
        if (since) this.countRecovery(since, read, recovered);
        return since ? { ...joined, recovered } : joined;
      }
      stopHolding(connection, room);
      span?.set('realtime.recovered', read.recovered);
      span?.set('realtime.replayed', read.recovered ? read.messages.length : 0);
      if (read.recovered) {
        // Read from the engine: the transports that need its fields read them once.
        for (const { frame } of read.messages) connection.send(new OutboundFrame(frame));
        connection.delivered += read.messages.length;
        // Live frames the read already covered are not sent twice.
        for (const { offset, frame } of held) {
          if (offset <= read.offset) continue;
          connection.send(frame);
          connection.delivered++;
        }
        // And those the broker hands over later (a networked one lags behind the read).
        if (read.messages.length > 0) {
          (connection.replayed ??= new Map()).set(room, { epoch: read.epoch, offset: read.offset });
        }
      } else {
        for (const { frame } of held) connection.send(frame); // live ones flow regardless
        connection.delivered += held.length;
      }
      if (since) this.countRecovery(since, read, read.recovered);
      const joined = { ...record, epoch: read.epoch, offset: read.offset };
      return since ? { ...joined, recovered: read.recovered } : joined;
    } catch (error) {
      if (held) stopHolding(connection, room);
      // Undo this join only: a membership from an earlier join stays.
      if (!already) await this.leave(connection, room, 'leave').catch(() => undefined);
      throw error;
    }
  }

  /** Takes a connection of this node out of a room. */
  async leave(connection: RealtimeConnection, room: string, cause: LeaveCause): Promise<void> {
    connection.roomSet.delete(room);
    forgetReplay(connection, room);
    const [, { removed, lastOfUser }] = await Promise.all([
      this.fanOut.unsubscribe(roomChannel(room), connection),
      this.engine.rooms.removeMember(room, connection.id),
    ]);
    // A deleted room is gone from the engine before other nodes hear of it: their
    // members left all the same.
    if (removed || cause === 'delete') {
      this.metrics.roomLeaves.inc(connection.transport, cause);
      this.listeners.notify((listener) => listener.roomLeft?.(connection, room, lastOfUser, cause));
    }
  }

  /** Counts a join's recovery: recovered, or resync and why (the reason is read off the positions). */
  private countRecovery(since: StreamPosition, read: StreamPosition, recovered: boolean): void {
    if (recovered) {
      this.metrics.recoveries.inc('recovered', 'ok');
      return;
    }
    const reason =
      since.epoch !== read.epoch
        ? 'epoch_changed'
        : since.offset > read.offset
          ? 'ahead'
          : 'too_old';
    this.metrics.recoveries.inc('resync', reason);
  }

  /**
   * This node's members of a room leave it (the room was deleted). A watcher of the
   * room's channel that is no connection (the inspector's tail) is no member: it stays.
   */
  async dropLocalMembers(room: string): Promise<void> {
    const members: RealtimeConnection[] = [];
    for (const subscriber of this.connections.subscribers(roomChannel(room)) ?? []) {
      const connection = this.connections.get(subscriber.id);
      if (connection === subscriber) members.push(connection);
    }
    await Promise.all(members.map((member) => this.leave(member, room, 'delete')));
  }
}

/** The connection's replay of `room` is no longer needed to tell late frames apart. */
export function forgetReplay(connection: RealtimeConnection, room: string): void {
  connection.replayed?.delete(room);
  if (connection.replayed?.size === 0) connection.replayed = undefined;
}

function stopHolding(connection: RealtimeConnection, room: string): void {
  connection.recovering?.delete(room);
  if (connection.recovering?.size === 0) connection.recovering = undefined;
}
