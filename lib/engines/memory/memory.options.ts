import type { Rule } from '../../options-check.js';

/**
 * The `engine` option that picks the memory engine (the default): everything in this
 * process; with `shared`, every app of this process that names the same store is a
 * node of one cluster (tests and demos of several nodes without Redis).
 *
 * @example
 * ```ts
 * engine: { type: 'memory', shared: 'cluster-a' }
 * ```
 */
export interface MemoryEngineConfig {
  type: 'memory';
  shared?: string;
}

/**
 * The checks of the memory engine's options, but `type`.
 *
 * @example
 * ```ts
 * MEMORY_ENGINE_RULES.shared[0]('cluster-a'); // true
 * ```
 */
export const MEMORY_ENGINE_RULES: Record<Exclude<keyof MemoryEngineConfig, 'type'>, Rule> = {
  shared: [(v) => typeof v === 'string' && v !== '', 'a non-empty string'],
};
