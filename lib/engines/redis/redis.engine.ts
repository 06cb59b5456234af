import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { Redis, type RedisOptions } from 'ioredis';
import type {
  ChosenStatus,
  EngineHandler,
  EnginePublication,
  HistoryRetention,
  PresenceEntry,
  PresenceMeta,
  PresenceRecord,
  RealtimeEngine,
  RoomMember,
  RoomRead,
  RoomRecord,
  StreamPosition,
} from '../realtime-engine.interface.js';
import {
  ADD_MEMBER,
  ADD_PRESENCE,
  DELETE_ROOM,
  EXPIRE_PRESENCE,
  PUBLISH_TO_ROOM,
  READ_ROOM,
  REMOVE_MEMBER,
  REMOVE_PRESENCE,
  SET_STATUS,
} from './redis-scripts.js';
import { RoomFeeds } from './room-feeds.js';

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
}

/** A stream nobody uses is forgotten after this long (or its retention), in ms. */
const IDLE_STREAM_TTL = 300_000;
/** Ids of multi-channel publications seen lately: each reaches a node once. */
const SEEN_LIMIT = 10_000;
const NEWLINE = 0x0a;
/** Missed messages a room is refilled with after this node's link to Redis dropped, at most. */
const REFILL_LIMIT = 10_000;
/** How long close() waits for Redis to answer QUIT before it cuts the connection, in ms. */
const CLOSE_TIMEOUT = 1_000;
/** A refill that could not read Redis is tried again after this long, in ms. */
const REFILL_RETRY = 1_000;

/** The header of a published payload (before "\n" and the frame). */
interface Header {
  /** channels */
  c: string[];
  /** except (cjson writes an empty list as {}) */
  e: string[] | Record<string, never>;
  /** volatile */
  v?: boolean;
  /** the room, offset and epoch of a room message */
  r?: string;
  o?: number;
  p?: string;
  /** id of a publication to several channels */
  i?: string;
}

/**
 * The engine for many nodes on one Redis (ioredis): publications through pub/sub
 * (one subscription per node per channel, fanned out locally), room streams and
 * their history in Redis, rooms and presence in Redis hashes with expiry, each step
 * that must not interleave between nodes in one Lua script.
 *
 * @example
 * ```ts
 * RealtimeModule.forRoot({ engine: { type: 'redis', url: 'redis://localhost:6379' } })
 * ```
 */
export class RedisEngine implements RealtimeEngine {
  private readonly prefix: string;
  private commands: Redis | undefined;
  private subscriber: Redis | undefined;
  private handler: EngineHandler | undefined;
  private readonly seen = new Set<string>();
  private readonly logger = new Logger('RealtimeRedis');
  private up = false;
  private wasStarted = false;
  /** Subscribed rooms and this node's place in each, for a refill after the link drops. */
  private readonly feeds = new RoomFeeds();
  /** Since when the subscriber has been cut off from Redis (undefined: it is not). */
  private cutSince: number | undefined;
  private refillTimer: NodeJS.Timeout | undefined;
  /** Channels whose unsubscribe failed while the link was down (see dropLeftBehind). */
  private readonly leftBehind = new Set<string>();
  /** One refill at a time; one asked for meanwhile runs after it. */
  private refilling = false;
  private refillAgain = false;
  /** The clients the engine made (and quits); a user's own ones are left as they are. */
  private readonly owned: Redis[] = [];
  /** Removes the engine's listeners from the clients. */
  private readonly detach: (() => void)[] = [];
  /** Whether publications go through sharded pub/sub. */
  private sharded = false;

  constructor(private readonly options: RedisEngineOptions = {}) {
    this.prefix = options.prefix ?? 'rt:';
  }

  /**
   * Whether Redis answers now. While it does not, the node keeps its clients, every
   * call to the engine fails at once (and is reported: an error reply, a log line),
   * and ioredis reconnects with backoff; subscriptions come back with the connection.
   */
  get available(): boolean {
    return this.up;
  }

  async start(handler: EngineHandler): Promise<void> {
    this.handler = handler;
    const { client, subscriber } = this.options;
    const commands = client ?? this.own(this.create());
    const listener = subscriber ?? this.own(client ? client.duplicate() : this.create());
    this.commands = commands;
    this.subscriber = listener;
    for (const redis of [commands, listener]) {
      this.listen(redis, 'error', (error: Error) => this.down(error));
      this.listen(redis, 'ready', () => this.ready());
    }
    const receive = (channel: Buffer, payload: Buffer) => this.receive(channel, payload);
    this.listen(listener, 'messageBuffer', receive);
    this.listen(listener, 'smessageBuffer', receive);
    // Pub/sub keeps nothing for a subscriber that is away: what the rooms got meanwhile
    // comes from their streams once it is back.
    this.listen(listener, 'close', () => {
      if (!this.handler) return;
      this.cutSince ??= Date.now();
      this.feeds.cutOff();
    });
    this.listen(listener, 'ready', () => this.refillAfterResubscribe());
    try {
      await Promise.all([connected(commands), connected(listener)]);
      this.ready();
      this.sharded = await this.useSharded(commands);
    } catch (error) {
      // Nest shuts nothing down after a failed start: no client of ours may go on
      // reconnecting (and keep the process alive).
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    this.handler = undefined;
    this.up = false;
    clearTimeout(this.refillTimer);
    for (const undo of this.detach.splice(0)) undo();
    this.commands = this.subscriber = undefined;
    const owned = this.owned.splice(0);
    // QUIT waits for what is in flight; a Redis that does not answer gets cut.
    await Promise.all(
      owned.map((redis) => within(redis.quit(), CLOSE_TIMEOUT).catch(() => redis.disconnect())),
    );
  }

  /** A client of the engine's own, from `url`/`redis`: no offline queue, capped backoff. */
  private create(): Redis {
    // No offline queue: during an outage calls fail at once instead of piling up.
    const settings: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
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

  // -- broker -------------------------------------------------------------------

  async publish({ channels, frame, except, volatile }: EnginePublication): Promise<void> {
    const header: Header = { c: [...channels], e: [...except] };
    if (volatile) header.v = true;
    if (channels.length > 1) header.i = randomBytes(9).toString('base64url');
    const payload = Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), frame]);
    const redis = this.redis();
    await Promise.all(
      channels.map((channel) =>
        this.sharded
          ? redis.spublish(this.channelKey(channel), payload)
          : redis.publish(this.channelKey(channel), payload),
      ),
    );
  }

  async subscribe(channel: string, room?: string): Promise<void> {
    if (room !== undefined) this.feeds.track(channel, room);
    const key = this.channelKey(channel);
    this.leftBehind.delete(key);
    try {
      await (this.sharded ? this.subscriber?.ssubscribe(key) : this.subscriber?.subscribe(key));
    } catch (error) {
      this.feeds.forget(channel);
      throw error;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    this.feeds.forget(channel);
    const key = this.channelKey(channel);
    try {
      await this.unsubscribeKeys([key]);
    } catch (error) {
      // ioredis would subscribe it again with the others once the link is back.
      this.leftBehind.add(key);
      throw error;
    }
  }

  private async unsubscribeKeys(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await (this.sharded
      ? this.subscriber?.sunsubscribe(...keys)
      : this.subscriber?.unsubscribe(...keys));
  }

  /** Channels left while the link was down: ioredis brought them back; they go again. */
  private dropLeftBehind(): void {
    const keys = [...this.leftBehind];
    this.leftBehind.clear();
    this.unsubscribeKeys(keys).catch(() => {
      for (const key of keys) this.leftBehind.add(key); // down again: at the next return
    });
  }

  /**
   * After the subscriber reconnects: once its subscriptions are back (a PING answered
   * after them), each room it subscribes to is refilled from its stream.
   */
  private refillAfterResubscribe(): void {
    const subscriber = this.subscriber;
    if (this.handler && this.leftBehind.size > 0) this.dropLeftBehind();
    if (!this.handler || this.cutSince === undefined || !subscriber) return;
    subscriber
      .ping()
      .then(
        () => this.refill(),
        () => undefined, // dropped again: the next 'ready' tries
      )
      .catch((error: unknown) => this.logger.error('a refill failed', String(error)));
  }

  private async refill(): Promise<void> {
    clearTimeout(this.refillTimer);
    // Only while subscribed: a refill that ends before the subscriber is back would let
    // live messages flow past what was published after its read.
    if (!this.handler || this.subscriber?.status !== 'ready') return;
    if (this.refilling) {
      this.refillAgain = true;
      return;
    }
    this.refilling = true;
    let complete: boolean;
    try {
      complete = await this.feeds.refill({
        // Bounded: a read sent as the link dropped waits for ioredis to resend it.
        read: (room, since) =>
          within(this.readRoom(room, since, REFILL_LIMIT, Date.now()), REFILL_RETRY * 2),
        deliver: (publication) => this.handler?.deliver(publication),
        lost: (channel, room, position) => {
          this.logger.warn(
            `room "${room}": messages sent while this node was cut off from Redis are no longer kept; its local members are told to resync`,
          );
          this.handler?.lost?.(channel, room, position);
        },
      });
    } finally {
      this.refilling = false;
    }
    if (this.refillAgain) {
      this.refillAgain = false;
      return this.refill();
    }
    if (!complete) {
      if (!this.handler) return;
      this.refillTimer = setTimeout(() => void this.refill(), REFILL_RETRY);
      this.refillTimer.unref();
      return;
    }
    if (this.cutSince === undefined) return;
    const away = Date.now() - this.cutSince;
    this.cutSince = undefined;
    this.logger.warn(
      `this node was cut off from Redis pub/sub for ${away} ms: room messages were replayed from the rooms' streams; messages to users and to everyone sent meanwhile by other nodes did not reach this node's clients`,
    );
  }

  private down(error: Error): void {
    if (!this.up) return;
    this.up = false;
    this.logger.warn(`Redis is unreachable (${error.message}): reconnecting`);
  }

  private ready(): void {
    if (this.up || !this.commands || this.commands.status !== 'ready') return;
    if (this.subscriber?.status !== 'ready') return;
    this.up = true;
    if (this.wasStarted) this.logger.log('Redis is back');
    this.wasStarted = true;
  }

  private receive(channel: Buffer, payload: Buffer): void {
    // Only the engine's own channels: a subscriber the user gave may carry others.
    if (!this.handler || !channel.toString('utf8').startsWith(this.channelKey(''))) return;
    const cut = payload.indexOf(NEWLINE);
    let header: Header;
    try {
      header = JSON.parse(payload.subarray(0, cut === -1 ? 0 : cut).toString('utf8')) as Header;
    } catch {
      return; // not a payload of the engine
    }
    if (!Array.isArray(header?.c)) return;
    if (header.i !== undefined) {
      if (this.seen.has(header.i)) return;
      this.seen.add(header.i);
      if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value!);
    }
    const publication: EnginePublication = {
      channels: header.c,
      frame: payload.subarray(cut + 1),
      except: Array.isArray(header.e) ? header.e : [],
      volatile: header.v === true,
      ...(header.r !== undefined && {
        position: { room: header.r, offset: header.o!, epoch: header.p! },
      }),
    };
    // A room message waits while its room is refilled after an outage.
    if (publication.position && !this.feeds.live(publication)) return;
    this.handler.deliver(publication);
  }

  // -- room streams -----------------------------------------------------------------

  async publishToRoom(
    room: string,
    channel: string,
    body: Buffer,
    except: readonly string[],
    retention: HistoryRetention,
    now: number,
    volatile = false,
  ): Promise<StreamPosition> {
    const header: Header = { c: [channel], e: [...except], r: room, o: 0 };
    if (volatile) header.v = true;
    const [epoch, offset] = (await this.redis().eval(
      PUBLISH_TO_ROOM,
      3,
      this.key('sm', room),
      this.key('sk', room),
      this.channelKey(channel),
      body,
      JSON.stringify(header),
      retention.maxCount,
      retention.maxAge,
      now,
      newEpoch(),
      IDLE_STREAM_TTL,
      this.sharded ? 'SPUBLISH' : 'PUBLISH',
    )) as [string, number];
    return { epoch, offset };
  }

  async readRoom(
    room: string,
    since: StreamPosition | undefined,
    limit: number,
    now: number,
  ): Promise<RoomRead> {
    // As buffers: the kept frames are bytes.
    const reply = (await this.redis().callBuffer(
      'EVAL',
      READ_ROOM,
      2,
      this.key('sm', room),
      this.key('sk', room),
      since?.epoch ?? '',
      since?.offset ?? 0,
      limit,
      now,
      newEpoch(),
      IDLE_STREAM_TTL,
    )) as [Buffer, number, number, ...Buffer[]];
    const [epoch, offset, recovered, ...entries] = reply;
    const read = {
      epoch: epoch.toString('utf8'),
      offset,
      recovered: recovered === 1,
      messages: entries.map(entryOf),
    };
    this.feeds.saw(room, read);
    return read;
  }

  // -- rooms --------------------------------------------------------------------

  async createRoom(room: string, now: number): Promise<RoomRecord> {
    const key = this.key('room', room);
    await this.redis().multi().hsetnx(key, 'created', now).hset(key, 'persistent', 1).exec();
    return (await this.getRoom(room))!;
  }

  async deleteRoom(room: string): Promise<boolean> {
    const existed = await this.redis().eval(
      DELETE_ROOM,
      4,
      ...this.roomKeys(room),
      room,
      this.prefix,
    );
    return existed === 1;
  }

  async addMember(room: string, member: RoomMember) {
    const userId = member.userId ?? '';
    const [created, persistent, size, first] = (await this.redis().eval(
      ADD_MEMBER,
      6,
      ...this.roomKeys(room),
      userId ? this.key('ur', userId) : this.key('ur', ''),
      this.key('seq', room),
      room,
      member.connectionId,
      JSON.stringify(member),
      userId,
      member.joinedAt,
    )) as [number, number, number, number];
    return {
      room: { name: room, created, persistent: persistent === 1, size },
      firstOfUser: first === 1,
    };
  }

  async removeMember(room: string, connectionId: string) {
    const [removed, last] = (await this.redis().eval(
      REMOVE_MEMBER,
      4,
      ...this.roomKeys(room),
      room,
      connectionId,
      this.prefix,
    )) as [number, number];
    return { removed: removed === 1, lastOfUser: last === 1 };
  }

  async getRoom(room: string): Promise<RoomRecord | undefined> {
    const [roomKey, , members] = this.roomKeys(room);
    const [[, record], [, size]] = (await this.redis()
      .multi()
      .hmget(roomKey, 'created', 'persistent')
      .hlen(members)
      .exec()) as [[unknown, (string | null)[]], [unknown, number]];
    if (record[0] === null) return undefined;
    return { name: room, created: Number(record[0]), persistent: record[1] === '1', size };
  }

  async getMembers(room: string): Promise<RoomMember[]> {
    const [, order, members] = this.roomKeys(room);
    const ids = await this.redis().zrange(order, 0, -1);
    if (ids.length === 0) return [];
    const values = await this.redis().hmget(members, ...ids);
    return values.flatMap((value) => (value === null ? [] : [JSON.parse(value) as RoomMember]));
  }

  async getUserRooms(userId: string): Promise<string[]> {
    return this.redis().smembers(this.key('ur', userId));
  }

  // -- presence -----------------------------------------------------------------

  async addPresence(entry: PresenceEntry, now: number) {
    const [came, status, meta, since, connections] = (await this.redis().eval(
      ADD_PRESENCE,
      3,
      ...this.presenceKeys(entry.userId),
      entry.userId,
      entry.connectionId,
      entry.expiresAt,
      now,
    )) as [number, ChosenStatus, string, number, number];
    return {
      record: { userId: entry.userId, status, meta: JSON.parse(meta), since, connections },
      cameOnline: came === 1,
    };
  }

  async removePresence(userId: string, connectionId: string, now: number): Promise<void> {
    await this.redis().eval(
      REMOVE_PRESENCE,
      3,
      ...this.presenceKeys(userId),
      userId,
      connectionId,
      now,
    );
  }

  async refreshPresence(entries: readonly PresenceEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const pipeline = this.redis().pipeline();
    for (const { userId, connectionId, expiresAt } of entries) {
      // Only a connection still recorded is pushed back (HSET would bring back a removed one).
      pipeline.eval(
        "if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end return 0",
        1,
        this.key('pc', userId),
        connectionId,
        expiresAt,
      );
    }
    const failed = (await pipeline.exec())!.find(([error]) => error);
    if (failed) throw failed[0];
  }

  async setPresenceStatus(
    userId: string,
    status: ChosenStatus,
    meta: PresenceMeta | null,
    now: number,
  ) {
    const [, connectionsKey] = this.presenceKeys(userId);
    const reply = (await this.redis().eval(
      SET_STATUS,
      2,
      this.key('p', userId),
      connectionsKey,
      status,
      JSON.stringify(meta),
      now,
    )) as [ChosenStatus, string, number, number, number] | [];
    if (reply.length === 0) return undefined;
    const [oldStatus, oldMeta, oldSince, since, connections] = reply;
    return {
      previous: {
        userId,
        status: oldStatus,
        meta: JSON.parse(oldMeta),
        since: oldSince,
        connections,
      },
      record: { userId, status, meta, since, connections },
    };
  }

  async getPresence(userIds: readonly string[]): Promise<(PresenceRecord | undefined)[]> {
    if (userIds.length === 0) return [];
    const pipeline = this.redis().pipeline();
    for (const userId of userIds) {
      pipeline.hmget(this.key('p', userId), 'status', 'meta', 'since');
      pipeline.hlen(this.key('pc', userId));
    }
    const results = (await pipeline.exec())!;
    // A pipeline answers errors in place: the first one fails the whole read.
    const failed = results.find(([error]) => error);
    if (failed) throw failed[0];
    return userIds.map((userId, i) => {
      const [status, meta, since] = results[2 * i]![1] as (string | null)[];
      if (status === null) return undefined;
      const connections = results[2 * i + 1]![1] as number;
      return {
        userId,
        status: status as ChosenStatus,
        meta: JSON.parse(meta!),
        since: Number(since),
        connections,
      };
    });
  }

  async expirePresence(now: number, offlineDelay: number): Promise<PresenceRecord[]> {
    const flat = (await this.redis().eval(
      EXPIRE_PRESENCE,
      1,
      this.key('psweep', ''),
      now,
      offlineDelay,
      this.prefix,
    )) as string[];
    const gone: PresenceRecord[] = [];
    for (let i = 0; i < flat.length; i += 4) {
      gone.push({
        userId: flat[i]!,
        status: flat[i + 1] as ChosenStatus,
        meta: JSON.parse(flat[i + 2]!),
        since: Number(flat[i + 3]),
        connections: 0,
      });
    }
    return gone;
  }

  // -- keys -----------------------------------------------------------------------

  private redis(): Redis {
    if (!this.commands) throw new Error('the Redis engine is not started');
    return this.commands;
  }

  private key(kind: string, name: string): string {
    return `${this.prefix}${kind}:${name}`;
  }

  private channelKey(channel: string): string {
    return this.key('ch', channel);
  }

  /** A room's record, member order, members and user counts. */
  private roomKeys(room: string): [string, string, string, string] {
    return [
      this.key('room', room),
      this.key('mo', room),
      this.key('mm', room),
      this.key('mu', room),
    ];
  }

  private presenceKeys(userId: string): [string, string, string] {
    return [this.key('p', userId), this.key('pc', userId), this.key('psweep', '')];
  }
}

/** `work`, or a rejection after `ms`. */
function within<T>(work: Promise<T>, ms: number): Promise<T> {
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

function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}

/** A kept entry, "offset:time:frame", as a message. */
function entryOf(entry: Buffer): { offset: number; frame: Buffer } {
  const first = entry.indexOf(0x3a);
  const second = entry.indexOf(0x3a, first + 1);
  return { offset: Number(entry.subarray(0, first).toString()), frame: entry.subarray(second + 1) };
}
