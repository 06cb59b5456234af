import type { Redis, RedisOptions } from 'ioredis';
import type { EngineHandler, RealtimeEngine } from '../realtime-engine.interface.js';
import { RedisBroker } from './redis.broker.js';
import { RedisConnection } from './redis-connection.js';
import { RedisController } from './redis.controller.js';
import { RedisPresenceStore } from './redis.presence-store.js';
import { RedisRoomStore } from './redis.room-store.js';

/**
 * Where the Redis engine connects: a URL (`redis://host:6379/0`), ioredis options, or
 * clients of your own; the prefix of its keys and channels (several apps may share
 * one Redis); and which pub/sub it uses.
 *
 * @example
 * ```ts
 * engine: { type: 'redis', url: 'redis://redis:6379', prefix: 'chat:' }
 * engine: { type: 'redis', client: new Redis(url, { enableOfflineQueue: false }) }
 * ```
 */
export interface RedisEngineOptions {
  readonly url?: string;
  readonly redis?: RedisOptions;
  /**
   * A client of your own for commands, instead of `url`/`redis`. The engine subscribes
   * on `subscriber`, or else on `client.duplicate()`, and never quits a client you gave
   * it. Give it `enableOfflineQueue: false` so that calls fail at once during an outage
   * (the engine's own clients do) instead of waiting in ioredis's queue.
   */
  readonly client?: Redis;
  /** A client of your own that the engine subscribes on (with `client`). */
  readonly subscriber?: Redis;
  /** Default `rt:`. */
  readonly prefix?: string;
  /**
   * Sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7 and later) or the classic one:
   * `'auto'` (the default) uses sharded pub/sub where the server has it; `true`
   * requires it (start fails on an older server); `false` uses the classic one.
   */
  readonly shardedPubSub?: boolean | 'auto';
  /**
   * How long the app's start waits for Redis to answer, in ms (default 5000); past it,
   * or at once when the connection is refused, start fails with a
   * `RealtimeStartupError` (`ENGINE_UNREACHABLE`) naming the URL, password masked.
   */
  readonly startTimeout?: number;
  /**
   * How long a call may wait for Redis, in ms (default 2000). A Redis that stops
   * answering without closing its connections (frozen, overloaded, a half-open network
   * path) is an outage from then on: the calls waiting fail, the next ones fail at
   * once, and the engine's own clients reconnect. A probe asks Redis every second.
   */
  readonly commandTimeout?: number;
}

/**
 * The engine for many nodes on one Redis (ioredis), composed of a broker (pub/sub and
 * room streams), a room store and a presence store (hashes with expiry), and a node
 * controller, over one {@link RedisConnection}; each step that must not interleave
 * between nodes is one Lua script.
 *
 * @example
 * ```ts
 * RealtimeModule.forRoot({ engine: { type: 'redis', url: 'redis://localhost:6379' } })
 * ```
 */
export class RedisEngine implements RealtimeEngine {
  readonly broker: RedisBroker;
  readonly rooms: RedisRoomStore;
  readonly presence: RedisPresenceStore;
  readonly controller: RedisController;
  private readonly connection: RedisConnection;

  constructor(options: RedisEngineOptions = {}) {
    this.connection = new RedisConnection(options);
    this.broker = new RedisBroker(this.connection);
    this.rooms = new RedisRoomStore(this.connection);
    this.presence = new RedisPresenceStore(this.connection);
    this.controller = new RedisController(this.connection);
  }

  /**
   * Whether Redis answers now. While it does not, the node keeps its clients, every
   * call to the engine fails at once (and is reported: an error reply, a log line),
   * and ioredis reconnects with backoff; subscriptions come back with the connection.
   */
  get available(): boolean {
    return this.connection.available;
  }

  /** Resolves once Redis answers a PING within `timeout` ms; rejects otherwise. */
  ping(timeout: number): Promise<void> {
    return this.connection.check(timeout);
  }

  async start(nodeId: string, handler: EngineHandler): Promise<void> {
    const { broker, controller } = this;
    broker.attach(handler);
    try {
      await this.connection.start({
        // Only the engine's own channels: a subscriber the user gave may carry others.
        message: (channel, payload) => {
          if (broker.owns(channel)) broker.receive(payload);
          else if (controller.owns(channel)) controller.receive(payload);
        },
        cutOff: () => broker.cutOff(),
        back: () => broker.back(),
      });
      await controller.attach(nodeId, handler);
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    this.broker.detach();
    this.controller.detach();
    await this.connection.close();
  }
}
