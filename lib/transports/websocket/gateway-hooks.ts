import { Logger } from '@nestjs/common';
import type { ModulesContainer } from '@nestjs/core';
import { GATEWAY_METADATA, MESSAGE_METADATA } from '@nestjs/websockets/constants.js';
import { BUILTIN_EVENT_PREFIX } from '../../protocol/index.js';

const HOOKS = ['handleConnection', 'handleDisconnect'] as const;
const GUARDED = Symbol('realtime:guarded-hook');
const logger = new Logger('RealtimeWebSocket');

type Hook = ((...args: unknown[]) => unknown) & { [GUARDED]?: true };

function report(hook: string, error: unknown): void {
  logger.error(`${hook} failed`, error instanceof Error ? error.stack : error);
}

/**
 * Fails the start when a gateway has a `@SubscribeMessage` handler for an event of
 * the built-in prefix: those events are the module's own, and the handler would
 * never run.
 */
function refuseBuiltinEvents(metatype: Function, instance: object): void {
  const prototype = Object.getPrototypeOf(instance) as Record<string, unknown>;
  for (
    let proto = prototype;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = Object.getOwnPropertyDescriptor(proto, name)?.value as unknown;
      if (typeof method !== 'function') continue;
      const message: unknown = Reflect.getMetadata(MESSAGE_METADATA, method);
      if (typeof message === 'string' && message.startsWith(BUILTIN_EVENT_PREFIX)) {
        throw new Error(
          `nest-realtime: ${metatype.name}.${name} handles "${message}", but events starting ` +
            `with "${BUILTIN_EVENT_PREFIX}" are the module's own; give it another name`,
        );
      }
    }
  }
}

/**
 * Nest runs a gateway's `handleConnection` and `handleDisconnect` inside an rxjs
 * subscription, where a throw is rethrown later from a timer: an uncaught
 * exception that takes the process down. Each gateway's hooks are wrapped so that
 * a failure (thrown or rejected) is logged instead. Runs before Nest binds them,
 * and refuses a handler of a built-in event.
 */
export function guardGatewayHooks(modules: ModulesContainer): void {
  for (const module of modules.values()) {
    for (const { instance, metatype } of module.providers.values()) {
      if (!instance || typeof metatype !== 'function') continue;
      if (!Reflect.getMetadata(GATEWAY_METADATA, metatype)) continue;
      refuseBuiltinEvents(metatype, instance);
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
