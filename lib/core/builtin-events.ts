import { BuiltinEvent } from '../realtime.constants.js';
import { assertUserEvent } from './frame.js';
import type { RealtimeConnection } from './realtime-connection.js';
import { ErrorCode, RealtimeError } from './realtime-error.js';
import type { RealtimeHub } from './realtime-hub.js';
import { assertRoomName } from './room-name.js';

/** Handles one built-in event for a connection; resolves to the reply's data. */
export type BuiltinHandler = (
  hub: RealtimeHub,
  connection: RealtimeConnection,
  data: unknown,
) => Promise<unknown>;

function fields(data: unknown): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new RealtimeError(ErrorCode.InvalidData, 'data must be an object');
  }
  return data as Record<string, unknown>;
}

/** Reads `data.room` and checks it by the room rules. */
function roomOf(hub: RealtimeHub, data: unknown): string {
  const { room } = fields(data);
  assertRoomName(room, hub.maxRoomNameLength);
  return room;
}

function assertMember(connection: RealtimeConnection, room: string): void {
  if (!connection.rooms.has(room)) {
    throw new RealtimeError(ErrorCode.NotInRoom, `not a member of room "${room}"`);
  }
}

/**
 * The built-in events of the frame protocol, shared by every transport that
 * speaks it (WebSocket today). docs/protocol.md documents each.
 */
export const BUILTIN_HANDLERS: ReadonlyMap<string, BuiltinHandler> = new Map<
  string,
  BuiltinHandler
>([
  [BuiltinEvent.Join, (hub, connection, data) => hub.join(connection, roomOf(hub, data))],
  [
    BuiltinEvent.Leave,
    async (hub, connection, data) => {
      const room = roomOf(hub, data);
      return { room, left: await hub.leave(connection, room) };
    },
  ],
  [
    BuiltinEvent.Publish,
    async (hub, connection, data) => {
      const room = roomOf(hub, data);
      const { event, data: payload, echo } = fields(data);
      assertUserEvent(event);
      if (echo !== undefined && typeof echo !== 'boolean') {
        throw new RealtimeError(ErrorCode.InvalidData, 'echo must be a boolean');
      }
      assertMember(connection, room);
      const operator = hub.to(room);
      await (echo ? operator : operator.except(connection)).emit(event, payload);
      return null;
    },
  ],
  [
    BuiltinEvent.Room,
    async (hub, connection, data) => {
      const room = roomOf(hub, data);
      assertMember(connection, room);
      const [info, users] = await Promise.all([hub.roomInfo(room), hub.roomUsers(room)]);
      if (!info) throw new RealtimeError(ErrorCode.RoomNotFound, `no room "${room}"`);
      return { ...info, users };
    },
  ],
]);
