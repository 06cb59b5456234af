import type { FrameFacts } from '../protocol/outbound-frame.js';
import type { StreamPosition } from '../protocol/stream-position.js';

/**
 * The broker: publish/subscribe between nodes, by channel, and the room streams
 * (every room message numbered (epoch, offset), published in that order, with a
 * bounded history for recovery). It pushes what it receives to the
 * {@link BrokerHandler} the engine was started with.
 *
 * Rules every implementation keeps:
 * - Calls take effect in the order one node makes them.
 * - Publications to a channel from one node reach every other node in the order
 *   they were published; a room's messages reach every node in offset order,
 *   whichever nodes published them.
 * - A publication reaches a node at most once, however many of its channels the
 *   node subscribes to, and only if it subscribes to at least one of them. The
 *   broadcast channel `*` is subscribed by every node from `start` on. A node may
 *   get its own publications back (its hub filters them by channel).
 * - Promises reject only when the broker could not do what was asked (e.g. the
 *   server behind it is unreachable); the caller reports or rolls back.
 *
 * @example
 * ```ts
 * await engine.broker.subscribe('r:lobby', 'lobby');
 * await engine.broker.publish({ channels: ['r:lobby'], frame, except: [] });
 * ```
 */
export interface Broker {
  /**
   * Publishes one encoded frame to channels. Resolves once the broker accepted it;
   * delivery to this node's own handler may happen before or after that.
   */
  publish(publication: EnginePublication): Promise<void>;

  /**
   * This node now has local interest in `channel` (its first local subscriber).
   * `room` names the room whose messages the channel carries, for a room's channel:
   * a broker whose link to the other nodes can drop (Redis) replays, once it is
   * back, the room's messages this node missed, in order and before later ones, and
   * reports with `handler.lost` what it can no longer replay.
   */
  subscribe(channel: string, room?: string): Promise<void>;

  /** This node no longer has local interest in `channel`. */
  unsubscribe(channel: string): Promise<void>;

  /**
   * Numbers one room message and publishes it to its channel, atomically: the
   * offset, the history append and the publication are one step, so every node sees
   * a room's messages in offset order. The broker closes `body` with
   * `,"offset":<n>,"epoch":"<e>"}`, keeps the result in the room's history when
   * `retention` allows, and publishes that. Offsets start at 1 and increase by 1
   * per message within an epoch; the epoch changes whenever the room's numbering or
   * history was lost (an engine restart, an expired stream). Resolves with the
   * message's place.
   */
  publishToRoom(message: RoomPublication): Promise<StreamPosition>;

  /**
   * The room's position now, and the kept messages after `since` (at most `limit`),
   * oldest first. `recovered` is true when these are exactly all the messages after
   * `since`: same epoch, nothing trimmed in between, no more than `limit`. Without
   * `since`: the last `limit` kept messages, and `recovered` true.
   */
  readRoom(
    room: string,
    since: StreamPosition | undefined,
    limit: number,
    now: number,
  ): Promise<RoomRead>;
}

/**
 * What a broker calls back into: the node's local fan-out. Neither method may throw.
 *
 * @example
 * ```ts
 * const handler: BrokerHandler = { deliver: (publication) => console.log(publication.channels) };
 * ```
 */
export interface BrokerHandler {
  /** Delivers a publication to this node's local subscribers. */
  deliver(publication: EnginePublication): void;
  /**
   * Messages of `room` (subscribed through `channel`) were lost to this node and
   * cannot be replayed: its stream goes on after `position`.
   */
  lost?(channel: string, room: string, position: StreamPosition): void;
}

/**
 * One frame on its way to channels.
 *
 * @example
 * ```ts
 * await engine.broker.publish({ channels: ['r:lobby'], frame: encodeFrame({ event: 'hi' }), except: [] });
 * ```
 */
export interface EnginePublication {
  readonly channels: readonly string[];
  /** The encoded frame, sent as is to every local recipient. */
  readonly frame: Buffer;
  /** Ids of connections that must not receive it. */
  readonly except: readonly string[];
  /** May be dropped for a connection that is behind (see `volatile` on operators). */
  readonly volatile?: boolean;
  /** For a room message (`publishToRoom`): its room, offset and epoch. */
  readonly position?: { readonly room: string; readonly offset: number; readonly epoch?: string };
  /**
   * What the publishing node knows of the frame (its event and data), so that its own
   * transports need not read the bytes back. An engine may hand it back with the
   * publication to nodes of its own process, and never sends it elsewhere: a node
   * without it reads the bytes.
   */
  readonly facts?: FrameFacts;
  /** Where and when it was published; an engine carries it to every node. */
  readonly origin?: PublicationOrigin;
}

/**
 * Where and when a publication was made, carried by the engine to every node: the
 * cross-node pub/sub lag is measured from it, and a trace goes on from its context.
 *
 * @example
 * ```ts
 * const origin: PublicationOrigin = { node: hub.nodeId, at: performance.timeOrigin + performance.now() };
 * ```
 */
export interface PublicationOrigin {
  /** The publishing node's id. */
  readonly node: string;
  /** When: ms since the epoch, with a fraction. */
  readonly at: number;
  /** The W3C `traceparent` of the publish span, when a trace records it. */
  readonly trace?: string;
}

/**
 * One room message on its way to be numbered, kept and published (see
 * {@link Broker.publishToRoom}).
 *
 * @example
 * ```ts
 * const { epoch, offset } = await engine.broker.publishToRoom({
 *   room: 'lobby',
 *   channel: 'r:lobby',
 *   body: Buffer.from('{"event":"chat","data":"hi","room":"lobby"'),
 *   except: [],
 *   retention: { maxCount: 100, maxAge: 300_000 },
 *   now: Date.now(),
 * });
 * ```
 */
export interface RoomPublication {
  readonly room: string;
  /** The channel it is published to (the room's). */
  readonly channel: string;
  /** The bytes of a JSON object without its closing brace. */
  readonly body: Buffer;
  /** Ids of connections that must not receive it. */
  readonly except: readonly string[];
  readonly retention: HistoryRetention;
  /** The time it is kept from, in ms since the epoch. */
  readonly now: number;
  /** As for {@link EnginePublication.volatile}. */
  readonly volatile?: boolean;
  /** As for {@link EnginePublication.facts}; a local delivery adds the offset and epoch. */
  readonly facts?: FrameFacts;
  /** As for {@link EnginePublication.origin}. */
  readonly origin?: PublicationOrigin;
}

/**
 * How much of a room's history to keep; `maxCount: 0` keeps none.
 *
 * @example
 * ```ts
 * const retention: HistoryRetention = { maxCount: 100, maxAge: 300_000 };
 * ```
 */
export interface HistoryRetention {
  /** Messages kept, at most. */
  readonly maxCount: number;
  /** How long a message is kept, in ms. */
  readonly maxAge: number;
}

/**
 * A read of a room's stream (see {@link Broker.readRoom}).
 *
 * @example
 * ```ts
 * const read = await engine.broker.readRoom('lobby', since, 100, Date.now());
 * if (!read.recovered) resync();
 * ```
 */
export interface RoomRead extends StreamPosition {
  readonly recovered: boolean;
  /** The kept frames after `since`, oldest first, each with its offset. */
  readonly messages: readonly { readonly offset: number; readonly frame: Buffer }[];
}
