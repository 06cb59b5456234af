import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { roomChannel } from '../../core/channels.js';
import type { ChannelSubscriber } from '../../core/connection-registry.js';
import { RealtimeMetrics } from '../../core/metrics/realtime-metrics.js';
import { viewOf, type PresenceState } from '../../core/presence/presence-state.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import type { RoomInfo } from '../../core/hub/room-joins.js';
import { RealtimeEngine } from '../../engines/realtime-engine.interface.js';
import type { RoomMember } from '../../engines/room-store.interface.js';
import {
  assertRoomName,
  assertUserEvent,
  ErrorCode,
  RealtimeError,
  type OutboundFrame,
  type StreamPosition,
} from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { CpuMeter, nodeSnapshot, type NodeSnapshot } from './node-snapshot.js';

/** How long a snapshot waits for the other nodes' answers, at most (ms). */
const GATHER_WINDOW = 500;
/** A node that has not answered for this long is no longer waited for (ms). */
const NODE_FORGOTTEN = 30_000;
/** Snapshots being gathered at once, at most: more are refused (TOO_MANY_REQUESTS). */
const MAX_GATHERING = 16;
/** A room's members and users listed at most. */
const ROOM_LIMIT = 500;
/** Bytes of a tailed message's text shown, at most. */
const TAIL_TEXT = 4_096;

/**
 * Every node's snapshot, as one node gathered them.
 *
 * @example
 * ```ts
 * const { nodes } = await inspector.snapshot('');
 * ```
 */
export interface ClusterSnapshot {
  /** The node that answered the request. */
  readonly self: string;
  /** Each node that answered in time, this one first. */
  readonly nodes: readonly NodeSnapshot[];
}

/**
 * One room, read through the engine: its record, members on every node, users with
 * their true status, and its stream's position and kept messages.
 *
 * @example
 * ```ts
 * const { stream } = await inspector.room('lobby');
 * ```
 */
export interface InspectedRoom {
  readonly name: string;
  readonly info: RoomInfo | null;
  readonly members: readonly RoomMember[];
  readonly memberCount: number;
  /** Each user among the members, with its status (null when presence is off). */
  readonly users: readonly { readonly userId: string; readonly presence: PresenceState | null }[];
  readonly stream: StreamPosition & { readonly kept: number };
}

/**
 * A message of a tailed room.
 *
 * @example
 * ```ts
 * inspector.tail('lobby', (message: TailedMessage) => console.log(message.event));
 * ```
 */
export interface TailedMessage {
  readonly at: number;
  readonly event: string;
  readonly offset: number | null;
  /** The frame's JSON, cut at 4 KiB (`truncated` then). */
  readonly text: string;
  readonly truncated: boolean;
}

/**
 * What the inspector page reads and does, across every node: snapshots gathered from
 * each node through the node link (asked only while someone looks: nothing runs when
 * the page is closed), rooms read through the engine, a room's live messages, and the
 * actions (disconnect, delete a room, publish), which the hub carries to the node
 * concerned.
 *
 * @example
 * ```ts
 * const snapshot = await inspector.snapshot('alice');
 * inspector.disconnect({ userId: 'alice' });
 * ```
 */
@Injectable()
export class RealtimeInspector implements OnModuleInit {
  private readonly cpu = new CpuMeter();
  /** Snapshots being gathered, by request id: what arrived, and how to finish. */
  private readonly gathering = new Map<
    number,
    { snapshots: NodeSnapshot[]; done: () => void; waitingFor: Set<string> }
  >();
  /** The other nodes, by when they last answered. */
  private readonly known = new Map<string, number>();
  private sequence = 0;

  constructor(
    private readonly hub: RealtimeHub,
    private readonly metrics: RealtimeMetrics,
    @Inject(RealtimeEngine) private readonly engine: RealtimeEngine,
    @Inject(REALTIME_OPTIONS) private readonly options: ResolvedRealtimeOptions,
  ) {}

  onModuleInit(): void {
    // Every node answers, whether or not it serves the page itself.
    const { link } = this.hub;
    link.handle('inspect', ({ id, query }: { id: number; query: string }, from: string) => {
      link.tell(from, 'inspected', { id, snapshot: this.local(query) });
    });
    link.handle('inspected', ({ id, snapshot }: { id: number; snapshot: NodeSnapshot }) => {
      this.known.set(snapshot.node.id, Date.now());
      const gathering = this.gathering.get(id);
      if (!gathering) return; // too late
      gathering.snapshots.push(snapshot);
      gathering.waitingFor.delete(snapshot.node.id);
      if (gathering.waitingFor.size === 0) gathering.done();
    });
  }

  /** This node's snapshot only. */
  local(query: string): NodeSnapshot {
    return nodeSnapshot(this.hub, this.metrics, query, this.cpu.sample());
  }

  /**
   * Every node's snapshot: this one's, and those the others send within 500 ms (it
   * resolves as soon as every node heard from in the last 30 s has answered).
   *
   * @throws RealtimeError TOO_MANY_REQUESTS past 16 gatherings at once.
   */
  async snapshot(query: string): Promise<ClusterSnapshot> {
    const own = this.local(query);
    if (!this.hub.clustered) return { self: this.hub.nodeId, nodes: [own] };
    if (this.gathering.size >= MAX_GATHERING) {
      throw new RealtimeError(ErrorCode.TooManyRequests, 'too many inspector snapshots at once');
    }
    const now = Date.now();
    for (const [node, seen] of this.known) if (now - seen > NODE_FORGOTTEN) this.known.delete(node);
    const id = ++this.sequence;
    const snapshots: NodeSnapshot[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), GATHER_WINDOW);
      const done = () => {
        clearTimeout(timer);
        this.gathering.delete(id);
        resolve();
      };
      // No node known yet (the first look): the whole window is waited, for a node
      // that is no node's id.
      const waitingFor = new Set(this.known.size > 0 ? this.known.keys() : ['(anyone)']);
      this.gathering.set(id, { snapshots, done, waitingFor });
      this.hub.link.tell(undefined, 'inspect', { id, query });
    });
    snapshots.sort((a, b) => (a.node.id < b.node.id ? -1 : 1));
    return { self: this.hub.nodeId, nodes: [own, ...snapshots] };
  }

  /**
   * A room through the engine, on every node alike.
   *
   * @throws RealtimeError ROOM_NAME_INVALID.
   */
  async room(name: string): Promise<InspectedRoom> {
    assertRoomName(name, this.hub.maxRoomNameLength);
    const [info, members, read] = await Promise.all([
      this.hub.roomInfo(name),
      this.hub.roomMembers(name),
      this.engine.broker.readRoom(name, undefined, this.options.history.recoveryLimit, Date.now()),
    ]);
    const userIds = [...new Set(members.flatMap(({ userId }) => userId ?? []))].slice(
      0,
      ROOM_LIMIT,
    );
    // The truth, invisible included: each user as the user sees itself.
    const records = this.options.presence ? await this.engine.presence.get(userIds) : undefined;
    return {
      name,
      info: info ?? null,
      members: members.slice(0, ROOM_LIMIT),
      memberCount: members.length,
      users: userIds.map((userId, i) => ({
        userId,
        presence: records ? viewOf(userId, records[i], userId) : null,
      })),
      stream: { epoch: read.epoch, offset: read.offset, kept: read.messages.length },
    };
  }

  /**
   * Closes a connection (by id, on whichever node holds it) or every connection of a
   * user, with 4500.
   *
   * @throws RealtimeError INVALID_DATA without exactly one of them.
   */
  disconnect({ connectionId, userId }: { connectionId?: unknown; userId?: unknown }): void {
    const reason = 'disconnected from the inspector';
    if (typeof connectionId === 'string' && connectionId !== '' && userId === undefined) {
      this.hub.disconnect(connectionId, reason);
    } else if (typeof userId === 'string' && userId !== '' && connectionId === undefined) {
      this.hub.disconnectUser(userId, reason);
    } else {
      throw new RealtimeError(ErrorCode.InvalidData, 'give a connectionId or a userId');
    }
  }

  /**
   * Deletes a room on every node.
   *
   * @throws RealtimeError ROOM_NAME_INVALID.
   */
  deleteRoom(room: unknown): Promise<boolean> {
    return this.hub.deleteRoom(checkedRoom(room, this.hub.maxRoomNameLength));
  }

  /**
   * Publishes a test message to a room, as the app's code would.
   *
   * @throws RealtimeError ROOM_NAME_INVALID, INVALID_DATA (a reserved or empty event).
   */
  async publish(room: unknown, event: unknown, data: unknown): Promise<StreamPosition> {
    const name = checkedRoom(room, this.hub.maxRoomNameLength);
    if (typeof event !== 'string') {
      throw new RealtimeError(ErrorCode.InvalidData, 'event must be a string');
    }
    assertUserEvent(event);
    return (await this.hub.to(name).emit(event, data))!;
  }

  /**
   * Follows a room's messages, from every node: `listener` hears each one until the
   * returned function is called.
   *
   * @throws RealtimeError ROOM_NAME_INVALID.
   */
  async tail(room: string, listener: (message: TailedMessage) => void): Promise<() => void> {
    assertRoomName(room, this.hub.maxRoomNameLength);
    const channel = roomChannel(room);
    const watcher: ChannelSubscriber = {
      id: `${this.hub.nodeId}.inspector.${++this.sequence}`,
      send: (frame: OutboundFrame) => listener(tailed(frame)),
    };
    await this.hub.subscribeChannel(channel, watcher, room);
    return () => void this.hub.unsubscribeChannel(channel, watcher);
  }
}

function checkedRoom(room: unknown, maxLength: number): string {
  if (typeof room !== 'string')
    throw new RealtimeError(ErrorCode.InvalidData, 'room must be a string');
  assertRoomName(room, maxLength);
  return room;
}

function tailed(frame: OutboundFrame): TailedMessage {
  const facts = frame.facts;
  const text = frame.text;
  const truncated = text.length > TAIL_TEXT;
  return {
    at: Date.now(),
    event: facts?.event ?? '',
    offset: facts?.offset ?? null,
    text: truncated ? text.slice(0, TAIL_TEXT) : text,
    truncated,
  };
}
