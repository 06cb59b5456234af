import { Injectable } from '@nestjs/common';
import { BUILTIN_EVENT_PREFIX } from '../../protocol/index.js';
import type { RealtimeConnection } from '../realtime-connection.js';

/** Handles one built-in event for a connection; resolves to the reply's data. */
export type BuiltinHandler = (connection: RealtimeConnection, data: unknown) => Promise<unknown>;

/**
 * How a built-in event is run.
 *
 * @example
 * ```ts
 * registry.register('rt:ice', handler, { transports: ['websocket'] });
 * ```
 */
export interface BuiltinEventOptions {
  /** The transports whose frames may carry it (by `connection.transport`); all when absent. */
  readonly transports?: readonly string[];
  /**
   * Run as soon as it is read, beside the connection's ordered frames: for frames that
   * change nothing another frame depends on (`rt:ack`, `rt:pong`), so that a handler
   * waiting for them cannot hold them up behind itself.
   */
  readonly immediate?: boolean;
}

/** A registered built-in event. */
export interface RegisteredEvent extends BuiltinEventOptions {
  readonly handler: BuiltinHandler;
}

/**
 * The one registry of the frame protocol's built-in events (`rt:*`). Each feature
 * (the core, presence, WebRTC signaling) registers its own events when it is made;
 * every transport that speaks frames (WebSocket, data channels, gRPC sessions, the
 * SSE publish endpoint) looks them up here instead of building a table of its own.
 *
 * @example
 * ```ts
 * @Injectable()
 * class PingEvents {
 *   constructor(registry: BuiltinEventRegistry) {
 *     registry.register('rt:pong', async () => null, { immediate: true });
 *   }
 * }
 * ```
 */
@Injectable()
export class BuiltinEventRegistry {
  private readonly events = new Map<string, RegisteredEvent>();

  /**
   * Adds a built-in event.
   *
   * @throws Error for a name outside the `rt:` prefix, or one registered already.
   */
  register(event: string, handler: BuiltinHandler, options: BuiltinEventOptions = {}): void {
    if (!event.startsWith(BUILTIN_EVENT_PREFIX)) {
      throw new Error(`built-in events start with "${BUILTIN_EVENT_PREFIX}": "${event}"`);
    }
    if (this.events.has(event)) throw new Error(`built-in event "${event}" is registered twice`);
    this.events.set(event, { ...options, handler });
  }

  /** The event as a connection of this transport may use it, or undefined. */
  get(event: string, transport: string): RegisteredEvent | undefined {
    const found = this.events.get(event);
    return found && (!found.transports || found.transports.includes(transport)) ? found : undefined;
  }
}
