export {
  backoffDelay,
  resolveReconnectOptions,
  type ReconnectOptions,
  type ResolvedReconnectOptions,
} from './backoff.js';
export {
  RealtimeClientError,
  type AnswersOf,
  type CallsOf,
  type ClientErrorCode,
  type ClientState,
  type ConnectedInfo,
  type EventsOf,
  type MessageListener,
  type MessageMeta,
  type PresenceState,
  type RealtimeSchema,
  type RequestsOf,
  type RoomInfo,
  type ServerEvents,
  type StateChange,
  type WebSocketConstructor,
  type WebSocketLike,
} from './client-types.js';
export { type RealtimeClientOptions } from './client-options.js';
export { RealtimeClient } from './realtime-client.js';
export { RoomSubscription, type JoinOptions } from './room-subscription.js';
export { RoomCall, type CallOptions, type CallPeer, type CallSignaling } from './room-call.js';
export type {
  CallConfiguration,
  CallIceServer,
  CallPeerConnection,
  CallPeerConnectionConstructor,
  PeerConnectionLike,
} from './call-platform.js';
