import { assertCanJoin, assertCanPublish } from '../../core/authorize.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import type { RealtimeHub } from '../../core/realtime-hub.js';
import { assertUserEvent } from '../../protocol/index.js';
import type { AuthorizeOptions } from '../../core/authorize.options.js';
import { roomName, type PublishRequest } from './grpc-messages.js';
import { parseJson } from './grpc-support.js';

/** The proto's `PublishReply`: where a message went. */
export interface PublishReply {
  readonly room: string;
  readonly epoch: string;
  readonly offset: number;
}

/**
 * One message to a room (a Publish, or one of a PublishStream), checked like any
 * client's; answers the proto's `PublishReply`. These calls are in no room, where a
 * WebSocket or SSE client publishes only to rooms it is in: so the caller must be one
 * who may join the room (`authorize.canJoin`), and then publish there (`canPublish`).
 *
 * @throws RealtimeError ROOM_NAME_INVALID, INVALID_DATA, FORBIDDEN, ...
 */
export async function publishOne(
  hub: RealtimeHub,
  authorize: AuthorizeOptions,
  principal: RealtimePrincipal,
  request: PublishRequest,
): Promise<PublishReply> {
  const room = roomName(request.room, hub.maxRoomNameLength);
  const event = request.event ?? '';
  assertUserEvent(event);
  const data = parseJson(request.data, 'data');
  await assertCanJoin(authorize, principal, room);
  await assertCanPublish(authorize, principal, room, { event, data });
  const position = (await hub.to(room).publishedBy('grpc').emit(event, data))!;
  return { room, epoch: position.epoch, offset: position.offset };
}
