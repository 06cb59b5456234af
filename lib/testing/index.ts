// nest-realtime/testing: what helps you test code built on nest-realtime: an app on a
// free port with connected clients (startRealtimeApp, needs @nestjs/testing), and the
// conformance suite of the engine contract, for an engine of your own.
export {
  startRealtimeApp,
  type RealtimeTestApp,
  type RealtimeTestClientOptions,
  type StartRealtimeAppOptions,
} from './start-realtime-app.js';
export { describeEngineConformance } from './engine-conformance.js';
export type { ConformanceMatchers, ConformanceTestApi } from './conformance-test-api.js';
