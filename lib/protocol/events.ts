/**
 * The prefix of every built-in event, inbound and outbound. User events and room
 * names may not use it.
 *
 * @example
 * ```ts
 * if (frame.event.startsWith(BUILTIN_EVENT_PREFIX)) handleBuiltin(frame);
 * ```
 */
export const BUILTIN_EVENT_PREFIX = 'rt:';

/**
 * Built-in events, as they appear in the `event` field of a frame.
 * docs/protocol.md describes each one.
 *
 * @example
 * ```ts
 * socket.send(JSON.stringify({ event: BuiltinEvent.Join, data: { room: 'lobby' }, id: 1 }));
 * ```
 */
export const BuiltinEvent = {
  Connected: 'rt:connected',
  Reply: 'rt:reply',
  Error: 'rt:error',
  Batch: 'rt:batch',
  Join: 'rt:join',
  Leave: 'rt:leave',
  Publish: 'rt:publish',
  Room: 'rt:room',
  Status: 'rt:status',
  Statuses: 'rt:statuses',
  Watch: 'rt:watch',
  Unwatch: 'rt:unwatch',
  Members: 'rt:members',
  Call: 'rt:call',
  Ack: 'rt:ack',
  Presence: 'rt:presence',
  RoomPresence: 'rt:room-presence',
  /** The heartbeat, sent by the server to clients that asked with `rt-ping=1`. */
  Ping: 'rt:ping',
  /** A client's answer to `rt:ping`; a no-op (any frame answers a ping). */
  Pong: 'rt:pong',
  /** SSE: a room of the stream could not be resumed from the client's position. */
  Resync: 'rt:resync',
  /** SSE: every room of the stream is joined; its id is the stream's place in all of them. */
  Joined: 'rt:joined',
  /** WebRTC: the ICE servers (and TURN credentials) for this client. */
  Ice: 'rt:ice',
  /** WebRTC: become a peer of a room's call. */
  PeerJoin: 'rt:peer-join',
  /** WebRTC: leave a room's call. */
  PeerLeave: 'rt:peer-leave',
  /** WebRTC: a peer joined the call (server to client). */
  PeerJoined: 'rt:peer-joined',
  /** WebRTC: a peer left the call (server to client). */
  PeerLeft: 'rt:peer-left',
  /** WebRTC: an offer, answer or ICE candidate, for one peer. */
  Signal: 'rt:signal',
} as const;
