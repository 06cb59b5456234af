import type { RealtimeConnection } from '../realtime-connection.js';
import { ErrorCode, RealtimeError, assertRoomName } from '../../protocol/index.js';
import type { RealtimeHub } from '../realtime-hub.js';

// Reading the `data` of built-in events: the checks every one of them shares.

/** `data` as an object of fields, or INVALID_DATA. */
export function fieldsOf(data: unknown): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new RealtimeError(ErrorCode.InvalidData, 'data must be an object');
  }
  return data as Record<string, unknown>;
}

/** `data.room`, checked by the room rules. */
export function roomOf(hub: RealtimeHub, data: unknown): string {
  const { room } = fieldsOf(data);
  assertRoomName(room, hub.maxRoomNameLength);
  return room;
}

/** @throws RealtimeError NOT_IN_ROOM unless the connection is a member of the room. */
export function assertMember(connection: RealtimeConnection, room: string): void {
  if (!connection.rooms.has(room)) {
    throw new RealtimeError(ErrorCode.NotInRoom, `not a member of room "${room}"`);
  }
}
