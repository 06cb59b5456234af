// nest-realtime/testing: what helps you test code built on nest-realtime, starting with
// the conformance suite of the engine contract, for an engine of your own.
export { describeEngineConformance } from './engine-conformance.js';
export type { ConformanceMatchers, ConformanceTestApi } from './conformance-test-api.js';
