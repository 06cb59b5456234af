import { PATH_METADATA } from '@nestjs/common/constants.js';

/**
 * Takes controller methods' routes away: Nest skips a method without a path. The
 * module's controllers (SSE, /metrics, the inspector) are classes of one app, routed
 * from its options once they are resolved.
 *
 * @example
 * ```ts
 * if (!options.sse) unroute(prototype.stream, prototype.publish);
 * ```
 */
export function unroute(...methods: ((...args: never[]) => unknown)[]): void {
  for (const method of methods) Reflect.deleteMetadata(PATH_METADATA, method);
}
