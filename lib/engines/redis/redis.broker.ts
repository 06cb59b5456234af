import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import type { StreamPosition } from '../../protocol/stream-position.js';
import type {
  Broker,
  BrokerHandler,
  EnginePublication,
  PublicationOrigin,
  RoomPublication,
  RoomRead,
} from '../broker.interface.js';
import { within, type RedisConnection } from './redis-connection.js';
import { RoomFeeds } from './room-feeds.js';

/** A stream nobody uses is forgotten after this long (or its retention), in ms. */
const IDLE_STREAM_TTL = 300_000;
/** Ids of multi-channel publications seen lately: each reaches a node once. */
const SEEN_LIMIT = 10_000;
const NEWLINE = 0x0a;
/** Missed messages a room is refilled with after this node's link to Redis dropped, at most. */
const REFILL_LIMIT = 10_000;
/** A refill that could not read Redis is tried again after this long, in ms. */
const REFILL_RETRY = 1_000;

/** The header of a published payload (before "\n" and the frame). */
interface Header {
  /** channels */
  c: string[];
  /** except */
  e: string[];
  /** volatile */
  v?: boolean;
  /** the room, offset and epoch of a room message */
  r?: string;
  o?: number;
  p?: string;
  /** id of a publication to several channels */
  i?: string;
  /** the origin: node, time, trace context */
  n?: string;
  t?: number;
  x?: string;
}

/**
 * The broker of the Redis engine: publications through pub/sub (one subscription per
 * node per channel, fanned out locally), room streams and their history in Redis,
 * numbered, kept and published by one script. A node whose subscriber was cut off
 * refills its rooms from their streams once it is back ({@link RoomFeeds}).
 *
 * @example
 * ```ts
 * await engine.broker.publishToRoom({ room: 'lobby', channel: 'r:lobby', body, except: [], retention, now: Date.now() });
 * ```
 */
export class RedisBroker implements Broker {
  private handler: BrokerHandler | undefined;
  private readonly seen = new Set<string>();
  private readonly logger = new Logger('RealtimeRedis');
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
  /** The prefix of every channel key of the broker. */
  private readonly channels: string;

  constructor(private readonly connection: RedisConnection) {
    this.channels = connection.key('ch', '');
  }

  /** From now on, publications go to `handler`. */
  attach(handler: BrokerHandler): void {
    this.handler = handler;
  }

  /** Delivers nothing more. */
  detach(): void {
    this.handler = undefined;
    clearTimeout(this.refillTimer);
  }

  /** Whether a channel key is one of the broker's. */
  owns(channel: string): boolean {
    return channel.startsWith(this.channels);
  }

  async publish({ channels, frame, except, volatile, origin }: EnginePublication): Promise<void> {
    const header: Header = { c: [...channels], e: [...except], ...originFields(origin) };
    if (volatile) header.v = true;
    if (channels.length > 1) header.i = randomBytes(9).toString('base64url');
    const payload = Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), frame]);
    await Promise.all(
      channels.map((channel) => this.connection.publish(this.channelKey(channel), payload)),
    );
  }

  async subscribe(channel: string, room?: string): Promise<void> {
    if (room !== undefined) this.feeds.track(channel, room);
    const key = this.channelKey(channel);
    this.leftBehind.delete(key);
    try {
      await this.connection.subscribe(key);
    } catch (error) {
      this.feeds.forget(channel);
      throw error;
    }
  }

  async unsubscribe(channel: string): Promise<void> {
    this.feeds.forget(channel);
    const key = this.channelKey(channel);
    try {
      await this.connection.unsubscribe([key]);
    } catch (error) {
      // ioredis would subscribe it again with the others once the link is back.
      this.leftBehind.add(key);
      throw error;
    }
  }

  async publishToRoom({
    room,
    channel,
    body,
    except,
    retention,
    now,
    volatile,
    origin,
  }: RoomPublication): Promise<StreamPosition> {
    // The header up to its offset, as bytes: the script appends offset and epoch.
    const from = origin ? JSON.stringify(originFields(origin)).slice(1, -1) + ',' : '';
    const header = `{"c":${JSON.stringify([channel])},"e":${JSON.stringify(except)},"r":${JSON.stringify(room)}${volatile ? ',"v":true' : ''},${from}"o":`;
    const [epoch, offset] = (await this.connection
      .redis()
      .rtPublishToRoom(
        this.connection.key('sm', room),
        this.connection.key('sk', room),
        this.channelKey(channel),
        body,
        header,
        retention.maxCount,
        retention.maxAge,
        now,
        newEpoch(),
        IDLE_STREAM_TTL,
        this.connection.publishCommand,
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
    const reply = (await this.connection
      .redis()
      .rtReadRoomBuffer(
        this.connection.key('sm', room),
        this.connection.key('sk', room),
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

  /** A payload on one of the broker's channels. */
  receive(payload: Buffer): void {
    if (!this.handler) return;
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
      ...(typeof header.n === 'string' &&
        typeof header.t === 'number' && {
          origin: {
            node: header.n,
            at: header.t,
            ...(typeof header.x === 'string' && { trace: header.x }),
          },
        }),
    };
    // A room message waits while its room is refilled after an outage.
    if (publication.position && !this.feeds.live(publication)) return;
    this.handler.deliver(publication);
  }

  /** Pub/sub keeps nothing for a subscriber that is away: what the rooms got meanwhile comes from their streams once it is back. */
  cutOff(): void {
    if (!this.handler) return;
    this.cutSince ??= Date.now();
    this.feeds.cutOff();
  }

  /**
   * After the subscriber reconnects: once its subscriptions are back (a PING answered
   * after them), each room it subscribes to is refilled from its stream.
   */
  back(): void {
    if (this.handler && this.leftBehind.size > 0) this.dropLeftBehind();
    if (!this.handler || this.cutSince === undefined) return;
    this.connection
      .ping()
      .then(
        () => this.refill(),
        () => undefined, // dropped again: the next 'ready' tries
      )
      .catch((error: unknown) => this.logger.error('a refill failed', String(error)));
  }

  /** Channels left while the link was down: ioredis brought them back; they go again. */
  private dropLeftBehind(): void {
    const keys = [...this.leftBehind];
    this.leftBehind.clear();
    this.connection.unsubscribe(keys).catch(() => {
      for (const key of keys) this.leftBehind.add(key); // down again: at the next return
    });
  }

  private async refill(): Promise<void> {
    clearTimeout(this.refillTimer);
    // Only while subscribed: a refill that ends before the subscriber is back would let
    // live messages flow past what was published after its read.
    if (!this.handler || !this.connection.subscribed) return;
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

  private channelKey(channel: string): string {
    return this.channels + channel;
  }
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

/** A publication's origin as header fields (none without one). */
function originFields(origin: PublicationOrigin | undefined): Pick<Header, 'n' | 't' | 'x'> {
  if (!origin) return {};
  return origin.trace === undefined
    ? { n: origin.node, t: origin.at }
    : { n: origin.node, t: origin.at, x: origin.trace };
}
