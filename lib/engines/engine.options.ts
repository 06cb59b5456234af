import { isPlainObject, RealtimeConfigError, type Rule } from '../options-check.js';
import { MEMORY_ENGINE_RULES, type MemoryEngineConfig } from './memory/memory.options.js';
import type { RealtimeEngine } from './realtime-engine.interface.js';
import { REDIS_ENGINE_RULES, type RedisEngineConfig } from './redis/redis.options.js';

/**
 * Which engine connects the nodes. `memory` (the default) keeps everything in this
 * process; with `shared`, every app of this process that names the same store is a
 * node of one cluster (tests and demos of several nodes without Redis). `redis` runs
 * many nodes on one Redis (ioredis, an optional peer dependency): `url`, ioredis
 * options in `redis`, or ioredis clients of your own (`client`, `subscriber`: see
 * `RedisEngineOptions`), a `prefix` for its keys and channels (default `rt:`),
 * `shardedPubSub` (`'auto'`: sharded pub/sub where the server is Redis 7 or later),
 * `startTimeout` (how long start waits for Redis, default 5000 ms; a Redis that does
 * not answer fails the start with a `RealtimeStartupError`), and `commandTimeout` (how
 * long a call may wait for Redis before it is an outage, default 2000 ms).
 * `custom` runs on an engine of your own (a {@link RealtimeEngine}: see docs/engines.md),
 * which the module starts and closes with the app.
 *
 * @example
 * ```ts
 * engine: { type: 'memory' }
 * engine: { type: 'memory', shared: 'cluster-a' }
 * engine: { type: 'redis', url: 'redis://redis:6379', prefix: 'chat:' }
 * engine: { type: 'redis', client: new Redis(url, { enableOfflineQueue: false }) }
 * engine: { type: 'custom', engine: new MyEngine() }
 * ```
 */
export type EngineOptions =
  MemoryEngineConfig | RedisEngineConfig | { type: 'custom'; engine: RealtimeEngine };

/** What a custom engine must have: its four parts, start and close (checked shallowly). */
function isEngine(value: unknown): boolean {
  const engine = value as Record<string, unknown> | null;
  return (
    typeof engine === 'object' &&
    engine !== null &&
    typeof engine.start === 'function' &&
    typeof engine.close === 'function' &&
    ['broker', 'rooms', 'presence', 'controller'].every(
      (part) => typeof engine[part] === 'object' && engine[part] !== null,
    )
  );
}

const CUSTOM_ENGINE_RULES: Record<string, Rule> = {
  engine: [isEngine, 'a RealtimeEngine (broker, rooms, presence, controller, start, close)'],
};

/** The options of each engine, and their checks. */
const ENGINE_RULES: Record<EngineOptions['type'], Record<string, Rule>> = {
  memory: MEMORY_ENGINE_RULES,
  redis: REDIS_ENGINE_RULES,
  custom: CUSTOM_ENGINE_RULES,
};
const ENGINE_TYPES = Object.keys(ENGINE_RULES);

/**
 * The `engine` option, checked against the options of the engine it names; the
 * memory engine unless set.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolveEngineOptions(undefined); // { type: 'memory' }
 * ```
 */
export function resolveEngineOptions(given: EngineOptions | undefined): EngineOptions {
  const engine = given ?? { type: 'memory' };
  if (!isPlainObject(engine as unknown))
    throw new RealtimeConfigError('engine', 'an object', engine);
  if (!ENGINE_TYPES.includes(engine.type)) {
    const types = ENGINE_TYPES.map((t) => `"${t}"`).join(', ');
    throw new RealtimeConfigError('engine.type', `one of ${types}`, engine.type);
  }
  const rules = ENGINE_RULES[engine.type];
  for (const [key, value] of Object.entries(engine)) {
    if (key === 'type') continue;
    const rule = Object.hasOwn(rules, key) ? rules[key] : undefined;
    if (!rule) {
      const names = ['type', ...Object.keys(rules)].join(', ');
      throw new RealtimeConfigError(`engine.${key}`, `one of the known options (${names})`, value);
    }
    if (!rule[0](value)) throw new RealtimeConfigError(`engine.${key}`, rule[1], value);
  }
  if (engine.type === 'custom' && engine.engine === undefined) {
    throw new RealtimeConfigError('engine.engine', CUSTOM_ENGINE_RULES.engine![1], undefined);
  }
  return engine;
}
