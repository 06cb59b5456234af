import { Logger } from '@nestjs/common';
import type { ModulesContainer } from '@nestjs/core';
import { GATEWAY_METADATA } from '@nestjs/websockets/constants.js';

const HOOKS = ['handleConnection', 'handleDisconnect'] as const;
const GUARDED = Symbol('realtime:guarded-hook');
const logger = new Logger('RealtimeWebSocket');

type Hook = ((...args: unknown[]) => unknown) & { [GUARDED]?: true };

function report(hook: string, error: unknown): void {
  logger.error(`${hook} failed`, error instanceof Error ? error.stack : error);
}

/**
 * Nest runs a gateway's `handleConnection` and `handleDisconnect` inside an rxjs
 * subscription, where a throw is rethrown later from a timer: an uncaught
 * exception that takes the process down. Each gateway's hooks are wrapped so that
 * a failure (thrown or rejected) is logged instead. Runs before Nest binds them.
 */
export function guardGatewayHooks(modules: ModulesContainer): void {
  for (const module of modules.values()) {
    for (const { instance, metatype } of module.providers.values()) {
      if (!instance || typeof metatype !== 'function') continue;
      if (!Reflect.getMetadata(GATEWAY_METADATA, metatype)) continue;
      const hooks = instance as Record<string, unknown>;
      for (const name of HOOKS) {
        const original = hooks[name] as Hook | undefined;
        if (typeof original !== 'function' || original[GUARDED]) continue;
        const guarded: Hook = function (this: unknown, ...args: unknown[]) {
          try {
            const result = original.apply(this, args);
            if (result instanceof Promise) result.catch((error: unknown) => report(name, error));
            return result;
          } catch (error) {
            report(name, error);
            return undefined;
          }
        };
        guarded[GUARDED] = true;
        hooks[name] = guarded;
      }
    }
  }
}
