export {
  HEALTH_PROTO_PATH,
  PROTO_LOADER_OPTIONS,
  REALTIME_PROTO_PATH,
  connectRealtimeGrpc,
} from './connect.js';
export { RealtimeHealthController, ServingStatus } from './health.controller.js';
export { RealtimeGrpcModule } from './realtime-grpc.module.js';
export { ERROR_CODE_METADATA_KEY, ERROR_DETAILS_METADATA_KEY } from './grpc-errors.js';
