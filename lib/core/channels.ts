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

/** Status changes of one user, public view: what watchers receive. */
export function presenceChannel(userId: string): string {
  return `p:${userId}`;
}

/** Batched member diffs of one room, for the connections that follow them. */
export function roomPresenceChannel(room: string): string {
  return `rp:${room}`;
}

/** Acknowledged delivery: a user got a connection that can acknowledge (wakes waiting messages). */
export function deliveryChannel(userId: string): string {
  return `dw:${userId}`;
}

/** The WebRTC peers of a room: who joins and leaves its calls. */
export function peerChannel(room: string): string {
  return `pe:${room}`;
}
