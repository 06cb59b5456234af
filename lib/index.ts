export { RealtimeModule } from './realtime.module.js';
export { RealtimeConfigError } from './options-check.js';
export { RealtimeStartupError, type RealtimeStartupCode } from './startup-error.js';
export { EngineUnavailableError } from './engines/engine-unavailable.error.js';
export {
  resolveRealtimeOptions,
  type RealtimeModuleOptions,
  type ResolvedRealtimeOptions,
} from './realtime.options.js';
export type { WebSocketOptions } from './transports/websocket/websocket.options.js';
export type { SseOptions } from './transports/sse/sse.options.js';
export type { RoomOptions } from './core/room.options.js';
export type { PresenceOptions } from './core/presence/presence.options.js';
export type { HistoryOptions } from './core/history/history.options.js';
export type { RpcOptions } from './core/rpc/rpc.options.js';
export type { DeliveryOptions } from './core/delivery/delivery.options.js';
export type { RateLimitOptions } from './core/limits/rate-limit.options.js';
export type { AuthenticateHook } from './core/authenticate.options.js';
export type { AuthorizeOptions } from './core/authorize.options.js';
export type { EngineOptions } from './engines/engine.options.js';
export type {
  MetricsOptions,
  OtelMeter,
  OtelObservable,
  PrometheusRegistry,
} from './core/metrics/metrics.options.js';
export type {
  InspectorAuthorize,
  InspectorOptions,
} from './observability/inspector/inspector.options.js';
export { REALTIME_OPTIONS } from './realtime.constants.js';
export {
  BUILTIN_EVENT_PREFIX,
  BuiltinEvent,
  CLOSE_CODES,
  CloseCode,
  ERROR_CODES,
  ErrorCode,
  GrpcStatus,
  RealtimeError,
  encodeFrame,
  OutboundFrame,
  errorCodeMapping,
  formatEventId,
  parseEventId,
  type CloseCodeMapping,
  type ErrorCodeMapping,
  type FrameFacts,
  type OutboundMessage,
} from './protocol/index.js';

export { RealtimeHub } from './core/realtime-hub.js';
export type { RoomHistory } from './core/history/room-history.js';
export type { JoinOptions, RoomInfo, RoomJoin } from './core/hub/room-joins.js';
export { PresenceService, type PresenceViewOptions } from './core/presence/presence.service.js';
export { RealtimeMetrics } from './core/metrics/realtime-metrics.js';
export { RealtimeMetricsExport } from './observability/metrics-export.service.js';
export { SECONDS_BUCKETS } from './core/metrics/metric-families.js';
export { type PresenceState, type PresenceStatus } from './core/presence/presence-state.js';
export { RpcService, type RpcContext, type RpcHandler } from './core/rpc/rpc.service.js';
export { RpcError } from './core/rpc/rpc-error.js';
export {
  DeliveryService,
  type DeliveryTarget,
  type Undeliverable,
} from './core/delivery/delivery.service.js';
export { BroadcastOperator } from './core/broadcast-operator.js';
export { ConnectionRegistry } from './core/connection-registry.js';
export { RealtimeConnection, type RealtimePrincipal } from './core/realtime-connection.js';

export {
  RealtimeEngine,
  type EngineHandler,
  type StreamPosition,
} from './engines/realtime-engine.interface.js';
export type {
  Broker,
  BrokerHandler,
  EnginePublication,
  HistoryRetention,
  RoomPublication,
  RoomRead,
} from './engines/broker.interface.js';
export type { RoomMember, RoomRecord, RoomStore } from './engines/room-store.interface.js';
export type {
  ChosenStatus,
  PresenceEntry,
  PresenceMeta,
  PresenceRecord,
  PresenceStore,
} from './engines/presence-store.interface.js';
export type { ControlHandler, NodeController } from './engines/node-controller.interface.js';
export { MemoryEngine } from './engines/memory/memory.engine.js';

export { RealtimeWsServer } from './transports/websocket/realtime-ws.server.js';
export {
  RealtimeWsAdapter,
  type RealtimeWsAdapterOptions,
} from './transports/websocket/realtime-ws.adapter.js';
export { RealtimeGateway } from './transports/websocket/realtime.gateway.js';
export { WsConnection } from './transports/websocket/ws-connection.js';
export type { UpgradeRequest } from './transports/websocket/upgrade-request.js';
export { RealtimeSse, type SseHelperOptions } from './transports/sse/realtime-sse.service.js';
export { RealtimeSseEndpoint } from './transports/sse/realtime-sse.endpoint.js';
export { RealtimeSseController } from './transports/sse/realtime-sse.controller.js';
export {
  StreamConnection,
  type ResumePoint,
  type StreamSink,
} from './transports/stream-connection.js';
export { CurrentUser } from './decorators/current-user.decorator.js';
export { WebRtcSignalingService } from './transports/webrtc/webrtc-signaling.service.js';
export type {
  AudioCodec,
  IceServer,
  TurnOptions,
  VideoCodec,
  WebRtcOptions,
} from './transports/webrtc/webrtc.options.js';
export { turnCredentials } from './transports/webrtc/turn-credentials.js';
export { DataChannelConnection } from './transports/webrtc/data-channel-connection.js';
export type { ServerDataChannel } from './transports/webrtc/server-data-channel.js';
