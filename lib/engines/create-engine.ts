import type { RedisEngineOptions } from './redis/redis.engine.js';
import type { EngineOptions } from './engine.options.js';
import { MemoryEngine } from './memory/memory.engine.js';
import type { RealtimeEngine } from './realtime-engine.interface.js';

/**
 * Builds the engine the (already checked) options name, or hands over the user's own.
 * The Redis engine is loaded only when asked for: ioredis is an optional peer dependency.
 */
export async function createEngine(options: EngineOptions): Promise<RealtimeEngine> {
  switch (options.type) {
    case 'memory':
      return new MemoryEngine(options.shared);
    case 'redis': {
      const { RedisEngine } = await import('./redis/redis.engine.js');
      // The options were checked (a client is an ioredis client); their types are loose
      // only so that the options do not need ioredis.
      return new RedisEngine(options as RedisEngineOptions);
    }
    case 'custom':
      return options.engine;
  }
}
