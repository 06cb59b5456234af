/** The prefix of every built-in event, inbound and outbound. User events may not use it. */
export const BUILTIN_EVENT_PREFIX = 'rt:';

/**
 * Built-in events, as they appear in the `event` field of a frame.
 * docs/protocol.md describes each one.
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
} as const;

/** Metadata keys, namespaced as Nest's own are. */
export const REALTIME_METADATA_PREFIX = 'realtime:';

/** Injection token of the checked options ({@link ResolvedRealtimeOptions}). */
export const REALTIME_OPTIONS = Symbol('realtime:options');
