import { Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import { maskUrl, RealtimeStartupError } from '../../startup-error.js';
import { EngineUnavailableError } from '../engine-unavailable.error.js';
import { withScripts, type ScriptedRedis } from './redis-scripts.js';
import type { RedisEngineOptions } from './redis.engine.js';

/** How long close() waits for Redis to answer QUIT before it cuts the connection, in ms. */
const CLOSE_TIMEOUT = 1_000;

/**
 * How long start() waits for Redis to answer before the app fails to start, in ms,
 * unless `startTimeout` says otherwise. A refused connection fails at once.
 */
const REDIS_START_TIMEOUT = 5_000;

/** How long a call may wait for Redis before it is an outage, in ms, unless `commandTimeout` says. */
const REDIS_COMMAND_TIMEOUT = 2_000;

/** How often a PING asks Redis whether it still answers, in ms. */
const PROBE_INTERVAL = 1_000;

const ENGINE = 'the Redis engine';

/**
 * What the parts of the engine hear from its connection.
 *
 * @example
 * ```ts
 * await connection.start({ message: (channel, payload) => route(channel, payload), cutOff, back });
 * ```
 */
export interface RedisConnectionEvents {
  /** A message on a channel the engine subscribed to (or another of a user's subscriber). */
  message(channel: string, payload: Buffer): void;
  /** The subscriber lost its link: pub/sub keeps nothing for it meanwhile. */
  cutOff(): void;
  /** The subscriber is back (ioredis subscribes its channels again). */
  back(): void;
}

/**
 * The Redis engine's two clients (commands, and a subscriber) and their outages,
 * shared by its parts: which clients it made (and quits) and which a user gave it,
 * whether Redis answers now, and which pub/sub (sharded or classic) it uses.
 *
 * @example
 * ```ts
 * const connection = new RedisConnection({ url: 'redis://localhost:6379' });
 * await connection.start({ message, cutOff, back });
 * await connection.publish(connection.key('ch', 'r:lobby'), payload);
 * ```
 */
export class RedisConnection {
  readonly prefix: string;
  private commands: ScriptedRedis | undefined;
  private listener: Redis | undefined;
  private readonly logger = new Logger('RealtimeRedis');
  private up = false;
  private wasStarted = false;
  /** The clients the engine made (and quits); a user's own ones are left as they are. */
  private readonly owned: Redis[] = [];
  /** Removes the engine's listeners from the clients. */
  private readonly detach: (() => void)[] = [];
  /** Whether publications go through sharded pub/sub. */
  private sharded = false;
  /** The last connection error ioredis reported, for the message of a failed start. */
  private lastError: Error | undefined;
  /** Calls refused during the current outage. */
  private refused = 0;
  private downSince = 0;
  private probe: NodeJS.Timeout | undefined;
  private probing = false;
  /** Whether Redis stopped answering on connections that stay open (see probeOnce). */
  private frozen = false;

  constructor(private readonly options: RedisEngineOptions = {}) {
    this.prefix = options.prefix ?? 'rt:';
  }

  /**
   * Whether Redis answers now. While it does not, the node keeps its clients, every
   * call fails at once (and is reported: an error reply, a log line), and ioredis
   * reconnects with backoff; subscriptions come back with the connection.
   */
  get available(): boolean {
    return this.up;
  }

  /**
   * The commands client; throws before start and after close, and during an outage
   * (an {@link EngineUnavailableError}, counted for the line that ends the outage).
   */
  redis(): ScriptedRedis {
    if (!this.commands) throw new Error('the Redis engine is not started');
    this.refuseWhileDown(this.commands);
    return this.commands;
  }

  /**
   * A call on a client that is not connected (after start) fails at once, as ioredis
   * without an offline queue would, but as an outage's error, and counted.
   */
  private refuseWhileDown(redis: Redis | undefined): void {
    if ((redis?.status === 'ready' && !this.frozen) || !this.wasStarted) return;
    this.refused++;
    throw new EngineUnavailableError(ENGINE);
  }

  /** Where the engine connects, for messages: its URL with any password masked. */
  get target(): string {
    if (this.options.url) return maskUrl(this.options.url);
    const given = this.options.client?.options ?? this.options.redis ?? {};
    const auth = given.password ? ':***@' : '';
    return `redis://${auth}${given.host ?? 'localhost'}:${given.port ?? 6379}`;
  }

  /** Whether the subscriber is connected and subscribed now. */
  get subscribed(): boolean {
    return this.listener?.status === 'ready';
  }

  key(kind: string, name: string): string {
    return `${this.prefix}${kind}:${name}`;
  }

  async start(events: RedisConnectionEvents): Promise<void> {
    const { client, subscriber } = this.options;
    const commands = withScripts(client ?? this.own(this.create()));
    const listener = subscriber ?? this.own(client ? client.duplicate() : this.create());
    this.commands = commands;
    this.listener = listener;
    for (const redis of [commands, listener]) {
      this.listen(redis, 'error', (error: Error) => this.down(error));
      this.listen(redis, 'close', () => this.down());
      this.listen(redis, 'ready', () => this.ready());
    }
    const receive = (channel: Buffer, payload: Buffer) =>
      events.message(channel.toString('utf8'), payload);
    this.listen(listener, 'messageBuffer', receive);
    this.listen(listener, 'smessageBuffer', receive);
    this.listen(listener, 'close', () => events.cutOff());
    this.listen(listener, 'ready', () => events.back());
    try {
      const timeout = this.options.startTimeout ?? REDIS_START_TIMEOUT;
      await within(Promise.all([connected(commands), connected(listener)]), timeout).catch(
        (error: unknown) => {
          throw this.unreachable(this.lastError ?? error);
        },
      );
      this.ready();
      this.sharded = await this.useSharded(commands);
      this.probe = setInterval(() => void this.probeOnce(), PROBE_INTERVAL).unref();
    } catch (error) {
      // Nest shuts nothing down after a failed start: no client of ours may go on
      // reconnecting (and keep the process alive).
      await this.close();
      throw error;
    }
  }

  /** The start-up error of a Redis that does not answer: the engine, where, and the fix. */
  private unreachable(error: unknown): RealtimeStartupError {
    const why = error instanceof Error ? error.message : String(error);
    return new RealtimeStartupError(
      'ENGINE_UNREACHABLE',
      `${ENGINE} could not reach ${this.target} (${why})`,
      'start Redis there, or set engine.url to a Redis that runs ' +
        '(engine.startTimeout sets how long start waits for it)',
      error,
    );
  }

  /**
   * Resolves once Redis answers a PING, within `timeout` ms (for health checks: not
   * counted among the calls an outage refused).
   */
  async check(timeout: number): Promise<void> {
    if (!this.commands) throw new Error(`${ENGINE} is not started`);
    if (!this.up) throw new EngineUnavailableError(ENGINE);
    await within(this.commands.ping(), timeout);
  }

  async close(): Promise<void> {
    clearInterval(this.probe);
    this.up = false;
    for (const undo of this.detach.splice(0)) undo();
    this.commands = this.listener = undefined;
    const owned = this.owned.splice(0);
    // QUIT waits for what is in flight; a Redis that does not answer gets cut.
    await Promise.all(
      owned.map((redis) => within(redis.quit(), CLOSE_TIMEOUT).catch(() => redis.disconnect())),
    );
  }

  /** Publishes a payload on a channel key, through the pub/sub in use. */
  publish(key: string, payload: Buffer): Promise<unknown> {
    const redis = this.redis();
    return this.sharded ? redis.spublish(key, payload) : redis.publish(key, payload);
  }

  /** The command that publishes, for a script: PUBLISH or SPUBLISH. */
  get publishCommand(): string {
    return this.sharded ? 'SPUBLISH' : 'PUBLISH';
  }

  async subscribe(key: string): Promise<void> {
    this.refuseWhileDown(this.listener);
    await (this.sharded ? this.listener?.ssubscribe(key) : this.listener?.subscribe(key));
  }

  async unsubscribe(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    this.refuseWhileDown(this.listener);
    await (this.sharded
      ? this.listener?.sunsubscribe(...keys)
      : this.listener?.unsubscribe(...keys));
  }

  /** Resolves once the subscriber answers (after the subscriptions it sent before). */
  async ping(): Promise<void> {
    await this.listener?.ping();
  }

  /** A client of the engine's own, from `url`/`redis`: no offline queue, capped backoff. */
  private create(): Redis {
    // No offline queue: during an outage calls fail at once instead of piling up.
    const settings: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      // A call that Redis does not answer fails in time (a frozen server keeps its TCP up).
      commandTimeout: this.timeout,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
      ...this.options.redis,
    };
    return this.options.url ? new Redis(this.options.url, settings) : new Redis(settings);
  }

  private own(redis: Redis): Redis {
    this.owned.push(redis);
    return redis;
  }

  private listen(redis: Redis, event: string, listener: (...args: any[]) => void): void {
    redis.on(event, listener);
    this.detach.push(() => redis.off(event, listener));
  }

  /** Whether to use sharded pub/sub, as `shardedPubSub` says and the server allows. */
  private async useSharded(redis: Redis): Promise<boolean> {
    const wanted = this.options.shardedPubSub ?? 'auto';
    if (wanted === false) return false;
    const version = /redis_version:(\d+)/.exec(await redis.info('server'))?.[1];
    const has = Number(version) >= 7;
    if (wanted === true && !has) {
      throw new Error(
        `nest-realtime: shardedPubSub needs Redis 7 or later; this server is ${version ?? 'unknown'}`,
      );
    }
    return has;
  }

  /**
   * The start of an outage: one line, whatever the number of clients and errors; until
   * it ends, calls are refused at once and counted.
   */
  private down(error?: Error): void {
    if (error) this.lastError = error;
    if (!this.up) return;
    this.up = false;
    this.refused = 0;
    this.downSince = Date.now();
    const why = error ? ` (${error.message})` : ' (connection closed)';
    this.logger.error(
      `${ENGINE} lost ${this.target}${why}: calls to the engine fail until it is back; reconnecting`,
    );
  }

  private get timeout(): number {
    return this.options.commandTimeout ?? REDIS_COMMAND_TIMEOUT;
  }

  /**
   * Asks both clients for a PING. No answer within the command timeout from a Redis
   * that keeps its connections open is an outage: the engine's own clients are cut and
   * reconnect (ioredis subscribes again), a user's clients are only refused. An answer
   * after such an outage, on connections that never closed, ends it.
   */
  private async probeOnce(): Promise<void> {
    const { commands, listener } = this;
    if (this.probing || !commands || !listener) return;
    if (commands.status !== 'ready' || listener.status !== 'ready') return;
    this.probing = true;
    try {
      await within(Promise.all([commands.ping(), listener.ping()]), this.timeout);
      if (this.frozen) this.ready();
    } catch {
      if (this.commands !== commands) return; // closed meanwhile
      this.frozen = true;
      this.down(new Error(`no answer within ${this.timeout} ms`));
      for (const redis of this.owned) redis.disconnect(true);
    } finally {
      this.probing = false;
    }
  }

  /** The end of an outage (or the first connection): one line, with what was refused. */
  private ready(): void {
    this.frozen = false;
    if (this.up || !this.commands || this.commands.status !== 'ready') return;
    if (this.listener?.status !== 'ready') return;
    this.up = true;
    if (this.wasStarted) {
      const seconds = ((Date.now() - this.downSince) / 1_000).toFixed(1);
      this.logger.log(
        `${ENGINE} reached ${this.target} again after ${seconds} s; ` +
          `${this.refused} call(s) failed during the outage`,
      );
    }
    this.wasStarted = true;
  }
}

/**
 * `work`, or a rejection after `ms`.
 *
 * @example
 * ```ts
 * await within(redis.quit(), 1_000);
 * ```
 */
export function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once the client is ready, connecting it if nobody did yet. */
async function connected(redis: Redis): Promise<void> {
  if (redis.status === 'wait') await redis.connect();
  else if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
}
