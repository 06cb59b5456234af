import { Inject, Injectable } from '@nestjs/common';
import {
  BuiltinEvent,
  assertUserEvent,
  ErrorCode,
  RealtimeError,
  type StreamPosition,
} from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { assertCanJoin, assertCanPublish } from '../authorize.js';
import { DeliveryService } from '../delivery/delivery.service.js';
import { PresenceService } from '../presence/presence.service.js';
import { RealtimeHub } from '../realtime-hub.js';
import { RpcService } from '../rpc/rpc.service.js';
import { BuiltinEventRegistry } from './builtin-event-registry.js';
import { assertMember, fieldsOf, roomOf } from './event-data.js';

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
 * The core's built-in events of the frame protocol (docs/protocol.md): rooms
 * (`rt:join`, `rt:leave`, `rt:publish`, `rt:room`), acknowledgements, RPC and the
 * heartbeat's answer. Made once per app; it registers them with the registry.
 *
 * @example
 * ```ts
 * const join = registry.get(BuiltinEvent.Join, 'websocket')!;
 * await join.handler(connection, { room: 'lobby' });
 * ```
 */
@Injectable()
export class CoreEvents {
  constructor(
    registry: BuiltinEventRegistry,
    hub: RealtimeHub,
    presence: PresenceService,
    rpc: RpcService,
    delivery: DeliveryService,
    @Inject(REALTIME_OPTIONS) { authorize }: ResolvedRealtimeOptions,
  ) {
    registry.register(BuiltinEvent.Join, async (connection, data) => {
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
    });
    registry.register(BuiltinEvent.Leave, async (connection, data) => {
      const room = roomOf(hub, data);
      return { room, left: await hub.leave(connection, room) };
    });
    registry.register(BuiltinEvent.Publish, async (connection, data) => {
      const room = roomOf(hub, data);
      const { event, data: payload, echo } = fieldsOf(data);
      assertUserEvent(event);
      const toSelf = optionalBoolean(echo, 'echo');
      assertMember(connection, room);
      await assertCanPublish(authorize, connection.principal, room, { event, data: payload });
      const operator = hub.to(room).publishedBy(connection.transport);
      // Its place in the room's stream: a sender that did not get its own message
      // (no echo) knows which offset not to expect.
      const position = await (toSelf ? operator : operator.except(connection)).emit(event, payload);
      return { room, epoch: position!.epoch, offset: position!.offset };
    });
    registry.register(BuiltinEvent.Room, async (connection, data) => {
      const room = roomOf(hub, data);
      assertMember(connection, room);
      return presence.roomView(room, { viewer: connection.userId });
    });
    // The heartbeat's answer: reading the frame at all is what counts (the transport
    // marks the connection alive before the rate limit), so there is nothing to do.
    registry.register(BuiltinEvent.Pong, async () => null, { immediate: true });
    // Immediate: a handler that waits for this acknowledgement must not hold it up.
    registry.register(
      BuiltinEvent.Ack,
      async (connection, data) => {
        delivery.ack(connection, fieldsOf(data).id);
        return null;
      },
      { immediate: true },
    );
    registry.register(BuiltinEvent.Call, async (connection, data) => {
      const { method, params } = fieldsOf(data);
      if (typeof method !== 'string' || method.length === 0) {
        throw new RealtimeError(ErrorCode.InvalidData, 'method must be a non-empty string');
      }
      return rpc.invoke(connection, method, params);
    });
  }
}
