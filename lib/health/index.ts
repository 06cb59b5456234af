// nest-realtime/health: the health indicator for @nestjs/terminus (an optional peer).
export {
  RealtimeHealthIndicator,
  type RealtimeHealthCheckOptions,
  type RealtimeHealthDetails,
} from './realtime-health.indicator.js';
