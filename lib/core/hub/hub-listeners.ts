import { Logger } from '@nestjs/common';
import type { RealtimeConnection } from '../realtime-connection.js';

/**
 * Why a connection left a room.
 *
 * @example
 * ```ts
 * roomLeft(connection, room, lastOfUser, cause: LeaveCause) { if (cause === 'delete') ... }
 * ```
 */
export type LeaveCause = 'leave' | 'disconnect' | 'delete';

/**
 * What a core service (presence) hears from the hub, after the engine has the
 * change. Calls are synchronous; a listener starts its own async work.
 *
 * @example
 * ```ts
 * hub.addListener({ connectionAdded: (connection) => console.log(connection.id) });
 * ```
 */
export interface HubListener {
  connectionAdded?(connection: RealtimeConnection): void;
  connectionRemoved?(connection: RealtimeConnection): void;
  /** `firstOfUser`: the user had no other connection in the room. */
  roomJoined?(connection: RealtimeConnection, room: string, firstOfUser: boolean): void;
  /** `lastOfUser`: it was the user's last connection in the room. */
  roomLeft?(
    connection: RealtimeConnection,
    room: string,
    lastOfUser: boolean,
    cause: LeaveCause,
  ): void;
}

/**
 * The hub's listeners, each told in turn; one that throws is logged and does not keep
 * the others from hearing.
 *
 * @example
 * ```ts
 * listeners.notify((listener) => listener.connectionAdded?.(connection));
 * ```
 */
export class HubListeners {
  private readonly listeners: HubListener[] = [];
  private readonly logger = new Logger('RealtimeHub');

  add(listener: HubListener): void {
    this.listeners.push(listener);
  }

  notify(call: (listener: HubListener) => void): void {
    for (const listener of this.listeners) {
      try {
        call(listener);
      } catch (error) {
        this.logger.error('a hub listener failed', error instanceof Error ? error.stack : error);
      }
    }
  }
}
