// nest-realtime/testing: what helps you test code built on nest-realtime, starting with
// the conformance suite of the engine contract, for an engine of your own.
export {
  describeEngineConformance,
  type ConformanceMatchers,
  type ConformanceTestApi,
} from './engine-conformance.js';
