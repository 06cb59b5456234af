/**
 * Channel names: how the hub addresses groups of connections through the engine.
 * A room and a user live in separate namespaces, so a room named like a user id
 * never collides with it.
 */
export const BROADCAST_CHANNEL = '*';

export function roomChannel(room: string): string {
  return `r:${room}`;
}

export function userChannel(userId: string): string {
  return `u:${userId}`;
}
