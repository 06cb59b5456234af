// The wire contract in code (docs/protocol.md): what the server and the client
// share. It imports nothing from Nest or Node; the server's encoder uses the Buffer
// global, which only server code calls.
export { BUILTIN_EVENT_PREFIX, BuiltinEvent } from './events.js';
export {
  CLOSE_CODES,
  CloseCode,
  ERROR_CODES,
  ErrorCode,
  GrpcStatus,
  closeCodeReconnect,
  errorCodeMapping,
  refusalCode,
  type CloseCodeMapping,
  type ErrorCodeMapping,
} from './codes.js';
export { RealtimeError } from './realtime-error.js';
export {
  MAX_CLOSE_REASON_BYTES,
  MAX_EVENT_LENGTH,
  MAX_ID_LENGTH,
  MAX_TIMER_DELAY,
} from './limits.js';
export {
  parseInboundFrame,
  type FrameId,
  type FrameRejection,
  type InboundFrame,
} from './inbound-frame.js';
export {
  assertUserEvent,
  encodeFrame,
  OutboundFrame,
  type FrameFacts,
  type OutboundMessage,
} from './outbound-frame.js';
export { errorFrame, INTERNAL_ERROR, replyFrame, type ErrorBody } from './reply-frames.js';
export { closeReason, refusalClose, type RefusalClose } from './close-reason.js';
export { protocolOptionsOf, type ProtocolOptions } from './handshake-options.js';
export { assertRoomName } from './room-name.js';
export type { StreamPosition } from './stream-position.js';
export { eventIdFormat, formatEventId, parseEventId } from './sse-event-id.js';
