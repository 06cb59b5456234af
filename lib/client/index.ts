export {
  RealtimeClient,
  RealtimeClientError,
  type ConnectedInfo,
  type MessageListener,
  type RealtimeClientOptions,
  type WebSocketConstructor,
} from './realtime-client.js';
