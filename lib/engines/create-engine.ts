import { RealtimeStartupError } from '../startup-error.js';
import type { RedisEngineOptions } from './redis/redis.engine.js';
import type { EngineOptions } from './engine.options.js';
import { MemoryEngine } from './memory/memory.engine.js';
import type { RealtimeEngine } from './realtime-engine.interface.js';

/**
 * Loads a package by name, as `import(name)` does. {@link createEngine} takes one so
 * that a test can stand for a machine where a peer dependency is not installed.
 *
 * @example
 * ```ts
 * const load: PackageLoader = (name) => import(name);
 * ```
 */
export type PackageLoader = (name: string) => Promise<unknown>;

/**
 * The loader of every optional peer: `import(name)`.
 *
 * @example
 * ```ts
 * await loadPeer(importPackage, 'ioredis', 'the Redis engine');
 * ```
 */
export const importPackage: PackageLoader = (name) => import(name);

/**
 * Builds the engine the (already checked) options name, or hands over the user's own.
 * The Redis engine is loaded only when asked for: ioredis is an optional peer dependency,
 * and its absence fails with a {@link RealtimeStartupError} (`PEER_MISSING`) that names
 * the engine and the fix.
 *
 * @param load how packages are loaded (`import` unless given)
 * @throws RealtimeStartupError when the Redis engine is asked for and ioredis cannot be loaded.
 * @example
 * ```ts
 * const engine = await createEngine({ type: 'redis', url: 'redis://localhost:6379' });
 * ```
 */
export async function createEngine(
  options: EngineOptions,
  load: PackageLoader = importPackage,
): Promise<RealtimeEngine> {
  switch (options.type) {
    case 'memory':
      return new MemoryEngine(options.shared);
    case 'redis': {
      await loadPeer(load, 'ioredis', 'the Redis engine (engine.type "redis")');
      const { RedisEngine } = await import('./redis/redis.engine.js');
      // The options were checked (a client is an ioredis client); their types are loose
      // only so that the options do not need ioredis.
      return new RedisEngine(options as RedisEngineOptions);
    }
    case 'custom':
      return options.engine;
  }
}

/**
 * Loads an optional peer dependency that `user` needs, or fails with a
 * {@link RealtimeStartupError} (`PEER_MISSING`) that says what to install.
 *
 * @throws RealtimeStartupError when the package cannot be found.
 * @example
 * ```ts
 * await loadPeer((name) => import(name), 'ioredis', 'the Redis engine');
 * ```
 */
export async function loadPeer(load: PackageLoader, name: string, user: string): Promise<unknown> {
  try {
    return await load(name);
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new RealtimeStartupError(
      'PEER_MISSING',
      `${user} needs ${name}, which is not installed (${(error as Error).message})`,
      `npm install ${name}`,
      error,
    );
  }
}
