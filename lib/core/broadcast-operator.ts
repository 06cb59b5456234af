import { BuiltinEvent } from '../realtime.constants.js';
import { BROADCAST_CHANNEL, roomChannel, userChannel } from './channels.js';
import { assertUserEvent, encodeFrame, type OutboundMessage } from './frame.js';
import type { RealtimeConnection } from './realtime-connection.js';
import { ErrorCode, RealtimeError } from './realtime-error.js';
import { assertRoomName } from './room-name.js';

/** What an operator needs from the hub: a way out to the engine, and the room rules. */
export interface BroadcastTarget {
  readonly maxRoomNameLength: number;
  publish(channels: readonly string[], frame: Buffer, except: readonly string[]): Promise<void>;
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
  constructor(
    private readonly target: BroadcastTarget,
    private readonly channels: readonly string[] = [],
    private readonly excluded: readonly string[] = [],
  ) {}

  /** Adds one room, or several, to the recipients. */
  to(room: string | readonly string[]): BroadcastOperator {
    const rooms = typeof room === 'string' ? [room] : room;
    for (const name of rooms) assertRoomName(name, this.target.maxRoomNameLength);
    return this.with(rooms.map(roomChannel), []);
  }

  /** Adds every connection of one user, or of several, to the recipients. */
  toUser(userId: string | readonly string[]): BroadcastOperator {
    const users = typeof userId === 'string' ? [userId] : userId;
    for (const id of users) {
      if (typeof id !== 'string' || id.length === 0) {
        throw new RealtimeError(ErrorCode.InvalidData, 'user ids must be non-empty strings');
      }
    }
    return this.with(users.map(userChannel), []);
  }

  /** Leaves out a connection (or its id), or several. */
  except(
    connection: RealtimeConnection | string | readonly (RealtimeConnection | string)[],
  ): BroadcastOperator {
    const list = Array.isArray(connection) ? connection : [connection];
    return this.with(
      [],
      list.map((c: RealtimeConnection | string) => (typeof c === 'string' ? c : c.id)),
    );
  }

  /**
   * Sends `{ event, data }` to the recipients (with `room` when the only target is
   * one room). Resolves once the engine accepted the message.
   */
  emit(event: string, data?: unknown): Promise<void> {
    assertUserEvent(event);
    return this.send({ event, data, room: this.soleRoom() });
  }

  /** Sends several messages to the recipients in one frame (`rt:batch`). */
  emitBatch(messages: readonly OutboundMessage[]): Promise<void> {
    for (const message of messages) assertUserEvent(message.event);
    const batch = messages.map((message) => ({ event: message.event, data: message.data }));
    return this.send({ event: BuiltinEvent.Batch, data: batch, room: this.soleRoom() });
  }

  private send(frame: object): Promise<void> {
    const channels = this.channels.length === 0 ? [BROADCAST_CHANNEL] : this.channels;
    return this.target.publish(channels, encodeFrame(frame), this.excluded);
  }

  private soleRoom(): string | undefined {
    const [only, ...rest] = this.channels;
    return only?.startsWith(ROOM_PREFIX) && rest.length === 0
      ? only.slice(ROOM_PREFIX.length)
      : undefined;
  }

  private with(channels: readonly string[], excluded: readonly string[]): BroadcastOperator {
    return new BroadcastOperator(
      this.target,
      channels.length ? [...new Set([...this.channels, ...channels])] : this.channels,
      excluded.length ? [...this.excluded, ...excluded] : this.excluded,
    );
  }
}
