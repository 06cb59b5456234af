import { BuiltinEvent, ErrorCode, RealtimeError } from '../../protocol/index.js';
import { Injectable } from '@nestjs/common';
import { BuiltinEventRegistry, type BuiltinHandler } from '../events/builtin-event-registry.js';
import { assertMember, fieldsOf, roomOf } from '../events/event-data.js';
import type { RealtimeConnection } from '../realtime-connection.js';
import { RealtimeHub } from '../realtime-hub.js';
import { assertChosenStatus, assertUserIds } from './presence-state.js';
import { PresenceService } from './presence.service.js';

/** The connection's user id, or NOT_AUTHENTICATED. */
function userOf(connection: RealtimeConnection): string {
  const { userId } = connection;
  if (userId === undefined) {
    throw new RealtimeError(ErrorCode.NotAuthenticated, 'presence needs an authenticated user');
  }
  return userId;
}

/** `data.users`, checked. */
function usersOf(data: unknown): string[] {
  const { users } = fieldsOf(data);
  assertUserIds(users);
  return users;
}

/**
 * The presence events of the frame protocol (docs/protocol.md, "Presence"),
 * registered with the registry when presence is on.
 *
 * @example
 * ```ts
 * registry.get(BuiltinEvent.Status, 'websocket'); // undefined with `presence: false`
 * ```
 */
@Injectable()
export class PresenceEvents {
  constructor(registry: BuiltinEventRegistry, hub: RealtimeHub, presence: PresenceService) {
    if (!presence.enabled) return;
    for (const [event, handler] of presenceHandlers(hub, presence)) {
      registry.register(event, handler);
    }
  }
}

function presenceHandlers(hub: RealtimeHub, presence: PresenceService): [string, BuiltinHandler][] {
  return [
    [
      BuiltinEvent.Status,
      async (connection, data) => {
        const userId = userOf(connection);
        const { status, meta = null, userId: claimed } = fieldsOf(data);
        if (claimed !== undefined && claimed !== userId) {
          throw new RealtimeError(ErrorCode.Forbidden, 'a connection may set its own status only');
        }
        assertChosenStatus(status);
        return presence.setStatus(userId, status, meta as never);
      },
    ],
    [
      BuiltinEvent.Statuses,
      async (connection, data) => ({
        statuses: await presence.getStatuses(usersOf(data), { viewer: connection.userId }),
      }),
    ],
    [
      BuiltinEvent.Watch,
      async (connection, data) => ({
        statuses: await presence.watchFor(connection, usersOf(data)),
      }),
    ],
    [
      BuiltinEvent.Unwatch,
      async (connection, data) => ({
        watching: await presence.unwatchFor(connection, usersOf(data)),
      }),
    ],
    [
      BuiltinEvent.Members,
      async (connection, data) => {
        const room = roomOf(hub, data);
        assertMember(connection, room);
        return { room, members: await presence.roomMembers(room, { viewer: connection.userId }) };
      },
    ],
  ];
}
