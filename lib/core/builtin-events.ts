import type { StreamPosition } from '../engines/realtime-engine.interface.js';
import { BuiltinEvent, assertUserEvent, ErrorCode, RealtimeError } from '../protocol/index.js';
import type { AuthorizeOptions } from './authorize.options.js';
import { assertCanJoin, assertCanPublish } from './authorize.js';
import type { PresenceService } from './presence/presence.service.js';
import { presenceHandlers } from './presence/presence-events.js';
import type { RealtimeConnection } from './realtime-connection.js';
import { assertMember, fieldsOf, roomOf } from './event-data.js';
import type { RealtimeHub } from './realtime-hub.js';
import type { RpcService } from './rpc/rpc.service.js';
import type { DeliveryService } from './delivery/delivery.service.js';

/** Handles one built-in event for a connection; resolves to the reply's data. */
export type BuiltinHandler = (connection: RealtimeConnection, data: unknown) => Promise<unknown>;

/** `since`, if given: `{ epoch: string, offset: non-negative integer }`, or INVALID_DATA. */
function positionOf(since: unknown): StreamPosition | undefined {
  if (since === undefined) return undefined;
  const { epoch, offset } = (typeof since === 'object' && since !== null ? since : {}) as Record<
    string,
    unknown
  >;
  if (
    typeof epoch !== 'string' ||
    epoch.length > 64 ||
    !Number.isSafeInteger(offset) ||
    (offset as number) < 0
  ) {
    throw new RealtimeError(
      ErrorCode.InvalidData,
      'since must be { epoch: string, offset: non-negative integer }',
    );
  }
  return { epoch, offset: offset as number };
}

function optionalBoolean(value: unknown, name: string): boolean {
  if (value !== undefined && typeof value !== 'boolean') {
    throw new RealtimeError(ErrorCode.InvalidData, `${name} must be a boolean`);
  }
  return value === true;
}

/**
 * The built-in events of the frame protocol, shared by every transport that
 * speaks it (WebSocket today). docs/protocol.md documents each.
 */
export function builtinHandlers(
  hub: RealtimeHub,
  presence: PresenceService,
  rpc: RpcService,
  delivery: DeliveryService,
  authorize: AuthorizeOptions,
): ReadonlyMap<string, BuiltinHandler> {
  const handlers = new Map<string, BuiltinHandler>([
    [
      BuiltinEvent.Join,
      async (connection, data) => {
        const room = roomOf(hub, data);
        const fields = fieldsOf(data);
        const follow = optionalBoolean(fields.presence, 'presence');
        if (follow && !presence.enabled) {
          throw new RealtimeError(ErrorCode.InvalidData, 'presence is off on this server');
        }
        const since = positionOf(fields.since);
        const { latest } = fields;
        if (latest !== undefined && !Number.isSafeInteger(latest)) {
          throw new RealtimeError(ErrorCode.InvalidData, 'latest must be an integer');
        }
        await assertCanJoin(authorize, connection.principal, room);
        const info = await hub.join(connection, room, {
          since,
          latest: latest as number | undefined,
        });
        return follow ? { ...info, members: await presence.followRoom(connection, room) } : info;
      },
    ],
    [
      BuiltinEvent.Leave,
      async (connection, data) => {
        const room = roomOf(hub, data);
        return { room, left: await hub.leave(connection, room) };
      },
    ],
    [
      BuiltinEvent.Publish,
      async (connection, data) => {
        const room = roomOf(hub, data);
        const { event, data: payload, echo } = fieldsOf(data);
        assertUserEvent(event);
        const toSelf = optionalBoolean(echo, 'echo');
        assertMember(connection, room);
        await assertCanPublish(authorize, connection.principal, room, { event, data: payload });
        const operator = hub.to(room);
        // Its place in the room's stream: a sender that did not get its own message
        // (no echo) knows which offset not to expect.
        const position = await (toSelf ? operator : operator.except(connection)).emit(
          event,
          payload,
        );
        return { room, epoch: position!.epoch, offset: position!.offset };
      },
    ],
    [
      BuiltinEvent.Room,
      async (connection, data) => {
        const room = roomOf(hub, data);
        assertMember(connection, room);
        const [info, users] = await Promise.all([hub.roomInfo(room), hub.roomUsers(room)]);
        if (!info) throw new RealtimeError(ErrorCode.RoomNotFound, `no room "${room}"`);
        return { ...info, users };
      },
    ],
  ]);
  // The heartbeat's answer: reading the frame at all is what counts (the transport
  // marks the connection alive before the rate limit), so there is nothing to do.
  handlers.set(BuiltinEvent.Pong, async () => null);
  handlers.set(BuiltinEvent.Ack, async (connection, data) => {
    delivery.ack(connection, fieldsOf(data).id);
    return null;
  });
  handlers.set(BuiltinEvent.Call, async (connection, data) => {
    const { method, params } = fieldsOf(data);
    if (typeof method !== 'string' || method.length === 0) {
      throw new RealtimeError(ErrorCode.InvalidData, 'method must be a non-empty string');
    }
    return rpc.invoke(connection, method, params);
  });
  if (presence.enabled) {
    for (const [event, handler] of presenceHandlers(hub, presence)) handlers.set(event, handler);
  }
  return handlers;
}
