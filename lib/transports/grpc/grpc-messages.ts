import type { PresenceState } from '../../core/presence/presence-state.js';
import type { StreamPosition } from '../../engines/realtime-engine.interface.js';
import { assertRoomName, ErrorCode, RealtimeError } from '../../protocol/index.js';

/** The service of protos/realtime/v1/realtime.proto, as Nest's `@GrpcMethod` names it. */
export const REALTIME_SERVICE = 'Realtime';

/** Messages of a PublishStream or requests of a Session that may wait for their turn; more end the call. */
export const MAX_WAITING = 1_000;

/** The messages of protos/realtime/v1/realtime.proto, as proto-loader hands them over. */
export interface PublishRequest {
  room?: string;
  event?: string;
  data?: string;
}
export interface PositionMessage {
  room?: string;
  epoch?: string;
  offset?: number;
}
export interface SubscribeRequest {
  rooms?: string[];
  since?: PositionMessage[];
}
export interface SessionRequest {
  id?: string;
  join?: { room?: string; since?: PositionMessage };
  leave?: { room?: string };
  publish?: PublishRequest;
  ack?: { id?: string };
}

/** What a request weighs for the rate limit: its fields' lengths, as a frame's bytes would. */
export function requestSize(request: object): number {
  return JSON.stringify(request).length;
}

/** A room field, checked as every transport checks room names. */
export function roomName(room: string | undefined, maxLength: number): string {
  assertRoomName(room ?? '', maxLength);
  return room!;
}

/** A `Position` message as the room it is for and the place in it. */
export function positionOf(
  { room, epoch, offset }: PositionMessage,
  maxLength: number,
): [string, StreamPosition] {
  const name = roomName(room, maxLength);
  if (!epoch || !Number.isSafeInteger(Number(offset ?? 0))) {
    throw new RealtimeError(ErrorCode.InvalidData, 'since needs an epoch and an offset');
  }
  return [name, { epoch, offset: Number(offset ?? 0) }];
}

/** A user's presence as the proto's `PresenceState` message. */
export function presenceMessage(state: PresenceState) {
  return {
    userId: state.userId,
    status: state.status,
    meta: JSON.stringify(state.meta),
    since: state.since ?? 0,
  };
}
