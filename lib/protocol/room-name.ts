import { ErrorCode } from './codes.js';
import { BUILTIN_EVENT_PREFIX } from './events.js';
import { RealtimeError } from './realtime-error.js';

// C0 controls and DEL: invisible in logs and UIs, and a favourite of log injection.
// oxlint-disable-next-line no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * The one place room names are checked, for every transport and for server code:
 * a non-empty string of at most `maxLength` characters, without control
 * characters, not starting with the reserved prefix `rt:`.
 *
 * @throws RealtimeError with code ROOM_NAME_INVALID, naming the rule broken.
 */
export function assertRoomName(room: unknown, maxLength: number): asserts room is string {
  if (typeof room !== 'string' || room.length === 0) {
    throw new RealtimeError(ErrorCode.RoomNameInvalid, 'room must be a non-empty string');
  }
  if (room.length > maxLength) {
    throw new RealtimeError(
      ErrorCode.RoomNameInvalid,
      `room name is ${room.length} characters long; the limit is ${maxLength}`,
    );
  }
  if (CONTROL_CHARACTERS.test(room)) {
    throw new RealtimeError(ErrorCode.RoomNameInvalid, 'room name contains control characters');
  }
  if (room.startsWith(BUILTIN_EVENT_PREFIX)) {
    throw new RealtimeError(
      ErrorCode.RoomNameInvalid,
      `room names starting with "${BUILTIN_EVENT_PREFIX}" are reserved`,
    );
  }
}
