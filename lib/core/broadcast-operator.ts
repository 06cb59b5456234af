import {
  BuiltinEvent,
  assertUserEvent,
  encodeFrame,
  type OutboundMessage,
  ErrorCode,
  RealtimeError,
  assertRoomName,
  type OutboundFrame,
} from '../protocol/index.js';
import { BROADCAST_CHANNEL, roomChannel, userChannel } from './channels.js';
import type { RoomPublication } from '../engines/broker.interface.js';
import type { StreamPosition } from '../engines/realtime-engine.interface.js';
import type { RealtimeConnection } from './realtime-connection.js';
import type { RealtimeMetrics } from './metrics/realtime-metrics.js';
import { SpanKind, type RealtimeTracing } from './tracing/realtime-tracing.js';

/** What an operator needs from the hub: a way out to the engine, and the room rules. */
export interface BroadcastTarget {
  readonly maxRoomNameLength: number;
  /** Where publishes are counted. */
  readonly metrics: RealtimeMetrics;
  /** Where publish spans start. */
  readonly tracing: RealtimeTracing;
  publish(
    channels: readonly string[],
    frame: OutboundFrame,
    except: readonly string[],
    volatile: boolean,
    trace?: string,
  ): Promise<void>;
  publishToRoom(
    message: Pick<RoomPublication, 'room' | 'body' | 'except' | 'volatile' | 'facts'> & {
      trace?: string;
    },
  ): Promise<StreamPosition>;
}

const ROOM_PREFIX = roomChannel('');

/**
 * Says who receives a message, then sends it. Immutable: every `to`, `toUser` and
 * `except` returns a new operator, so one can be kept and reused. An operator with
 * no target addresses every connection. A connection addressed by several targets
 * receives the message once.
 *
 * The frame is encoded once per `emit`, and the same bytes go to every recipient.
 *
 * @example
 * ```ts
 * await hub.to('lobby').except(client).emit('chat', { text: 'hi' });
 * await hub.toUser('u1').emit('notice', { unread: 3 });
 * await hub.to(['a', 'b']).emitBatch([{ event: 'x', data: 1 }, { event: 'y', data: 2 }]);
 * ```
 */
export class BroadcastOperator {
  /** What `emit` publishes to; computed once, since an operator never changes. */
  private readonly publishTo: readonly string[];
  private readonly room: string | undefined;

  /**
   * @internal Made by the hub (`hub.to`, `hub.toUser`, `hub.except`).
   * @param channels undefined: everyone; otherwise exactly these (possibly none).
   */
  constructor(
    private readonly target: BroadcastTarget,
    private readonly channels: readonly string[] | undefined = undefined,
    private readonly excluded: readonly string[] = [],
    private readonly isVolatile = false,
    /** Who publishes, for the metrics: a client's transport, or `server` for the app. */
    private readonly origin = 'server',
  ) {
    this.publishTo = channels ?? [BROADCAST_CHANNEL];
    const only = channels?.length === 1 ? channels[0]! : undefined;
    this.room = only?.startsWith(ROOM_PREFIX) ? only.slice(ROOM_PREFIX.length) : undefined;
  }

  /**
   * Adds one room, or several, to the recipients (an empty list adds none).
   *
   * @example
   * ```ts
   * await hub.to('lobby').to(['a', 'b']).emit('news', item);
   * ```
   * @throws RealtimeError ROOM_NAME_INVALID, at once.
   */
  to(room: string | readonly string[]): BroadcastOperator {
    const rooms = typeof room === 'string' ? [room] : room;
    for (const name of rooms) assertRoomName(name, this.target.maxRoomNameLength);
    return this.with(rooms.map(roomChannel), []);
  }

  /**
   * Adds every connection of one user, or of several, to the recipients.
   *
   * @example
   * ```ts
   * await hub.toUser(['alice', 'bob']).emit('invite', { room: 'standup' });
   * ```
   * @throws RealtimeError INVALID_DATA for an empty user id, at once.
   */
  toUser(userId: string | readonly string[]): BroadcastOperator {
    const users = typeof userId === 'string' ? [userId] : userId;
    for (const id of users) {
      if (typeof id !== 'string' || id.length === 0) {
        throw new RealtimeError(ErrorCode.InvalidData, 'user ids must be non-empty strings');
      }
    }
    return this.with(users.map(userChannel), []);
  }

  /**
   * The same recipients, for messages that may be dropped for a connection that is
   * behind (more than half of `websocket.maxBufferedBytes` waiting): positions,
   * typing indicators, anything the next message replaces. Others are never dropped
   * (a connection too far behind is closed instead).
   *
   * @example
   * ```ts
   * await hub.to('match:7').volatile.emit('position', { x, y });
   * ```
   */
  get volatile(): BroadcastOperator {
    return new BroadcastOperator(this.target, this.channels, this.excluded, true, this.origin);
  }

  /**
   * Leaves out a connection (or its id), or several.
   *
   * @example
   * ```ts
   * await hub.to('lobby').except(client).emit('typing', { who: client.userId });
   * ```
   */
  except(
    connection: RealtimeConnection | string | readonly (RealtimeConnection | string)[],
  ): BroadcastOperator {
    const list = Array.isArray(connection) ? connection : [connection];
    return this.with(
      undefined,
      list.map((c: RealtimeConnection | string) => (typeof c === 'string' ? c : c.id)),
    );
  }

  /**
   * Sends `{ event, data }` to the recipients (with `room` when the only target is
   * one room). Resolves once the engine accepted the message: for exactly one room,
   * with the message's place in the room's stream (`{ epoch, offset }`), otherwise
   * with `undefined`. Rejects with INVALID_DATA for an empty or reserved event name.
   *
   * @example
   * ```ts
   * const { offset } = (await hub.to('lobby').emit('chat', { from: 'alice', text: 'hi' }))!;
   * ```
   */
  async emit(event: string, data?: unknown): Promise<StreamPosition | undefined> {
    assertUserEvent(event);
    return this.send({ event, data, room: this.room });
  }

  /**
   * Sends several messages to the recipients in one frame (`rt:batch`), to be
   * handled in order.
   *
   * @example
   * ```ts
   * await hub.to('chart').emitBatch(points.map((p) => ({ event: 'point', data: p })));
   * ```
   */
  async emitBatch(messages: readonly OutboundMessage[]): Promise<StreamPosition | undefined> {
    for (const message of messages) assertUserEvent(message.event);
    const batch = messages.map((message) => ({ event: message.event, data: message.data }));
    return this.send({ event: BuiltinEvent.Batch, data: batch, room: this.room });
  }

  /**
   * @internal The same operator, counted in the metrics as published by a client of
   * `transport` (the built-in publishes) rather than by the app.
   */
  publishedBy(transport: string): BroadcastOperator {
    const { target, channels, excluded, isVolatile } = this;
    return new BroadcastOperator(target, channels, excluded, isVolatile, transport);
  }

  private async send(frame: object): Promise<StreamPosition | undefined> {
    if (this.publishTo.length === 0) return undefined; // addressed to an empty list: nobody
    const { metrics, tracing } = this.target;
    metrics.publishes.inc(this.origin);
    if (this.room !== undefined) metrics.roomPublished(this.room);
    const encoded = encodeFrame(frame);
    const span = tracing.start('realtime.publish', SpanKind.Producer, {
      'messaging.system': 'nest-realtime',
      'messaging.operation.type': 'send',
      'messaging.destination.name': this.room ?? this.publishTo.join(' '),
      'realtime.origin': this.origin,
    });
    try {
      const trace = span?.traceparent;
      const position = await this.sendEncoded(encoded, trace);
      if (position) span?.set('realtime.offset', position.offset);
      span?.end();
      return position;
    } catch (error) {
      span?.end(error);
      throw error;
    }
  }

  private async sendEncoded(
    encoded: OutboundFrame,
    trace: string | undefined,
  ): Promise<StreamPosition | undefined> {
    if (this.room === undefined) {
      await this.target.publish(this.publishTo, encoded, this.excluded, this.isVolatile, trace);
      return undefined;
    }
    // One room: the engine numbers it, so the object is left open for its offset and epoch.
    const body = encoded.bytes.subarray(0, -1);
    const facts = encoded.facts ?? undefined;
    return this.target.publishToRoom({
      room: this.room,
      body,
      except: this.excluded,
      volatile: this.isVolatile,
      facts,
      trace,
    });
  }

  /** `channels` given (even empty): the operator narrows to targets; undefined: it keeps its own. */
  private with(
    channels: readonly string[] | undefined,
    excluded: readonly string[],
  ): BroadcastOperator {
    return new BroadcastOperator(
      this.target,
      channels ? [...new Set([...(this.channels ?? []), ...channels])] : this.channels,
      excluded.length ? [...this.excluded, ...excluded] : this.excluded,
      this.isVolatile,
      this.origin,
    );
  }
}
