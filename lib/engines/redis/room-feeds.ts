import type { StreamPosition } from '../../protocol/stream-position.js';
import type { EnginePublication, RoomRead } from '../broker.interface.js';

/** Live messages a feed holds while it is refilled, at most (the oldest go first). */
const MAX_HELD = 10_000;

/** One subscribed room channel, and how far this node got in its stream. */
interface Feed {
  readonly channel: string;
  readonly room: string;
  /** The last message handed over (epoch undefined: none known yet). */
  epoch?: string;
  offset: number;
  /** Set while the node is cut off or refilling: live messages wait here. */
  held?: EnginePublication[];
}

/** What a refill needs from the engine. */
export interface FeedSource {
  read(room: string, since: StreamPosition): Promise<RoomRead>;
  deliver(publication: EnginePublication): void;
  lost(channel: string, room: string, position: StreamPosition): void;
}

/**
 * The rooms a node subscribes to and its place in each: what lets a node whose link to
 * Redis dropped (pub/sub does not keep what it could not hand over) replay, from the
 * rooms' streams, what it missed, in order and before the live messages that came
 * after, and report what it can no longer replay.
 *
 * @example
 * ```ts
 * feeds.track('r:lobby', 'lobby');
 * feeds.cutOff(); // the connection dropped: live messages are held from now on
 * await feeds.refill(source); // back: the missed ones, then the held ones
 * ```
 */
export class RoomFeeds {
  private readonly feeds = new Map<string, Feed>();
  private readonly byRoom = new Map<string, Feed>();
  /** Counts the link's drops: a refill that sees it change while it reads keeps holding. */
  private drops = 0;

  /** A room channel this node now subscribes to. */
  track(channel: string, room: string): void {
    if (this.feeds.has(channel)) return;
    const feed: Feed = { channel, room, offset: 0 };
    this.feeds.set(channel, feed);
    this.byRoom.set(room, feed);
  }

  forget(channel: string): void {
    const feed = this.feeds.get(channel);
    if (!feed) return;
    this.feeds.delete(channel);
    if (this.byRoom.get(feed.room) === feed) this.byRoom.delete(feed.room);
  }

  /** A place read from the room's stream: where this node starts, if it knew none. */
  saw(room: string, position: StreamPosition): void {
    const feed = this.byRoom.get(room);
    if (feed && feed.epoch === undefined) {
      feed.epoch = position.epoch;
      feed.offset = position.offset;
    }
  }

  /**
   * A live room message: true to hand it over now, false when it waits for a refill or
   * was handed over already.
   */
  live(publication: EnginePublication): boolean {
    const feed = this.feeds.get(publication.channels[0]!);
    const position = publication.position;
    if (!feed || !position) return true;
    if (feed.held) {
      feed.held.push(publication);
      if (feed.held.length > MAX_HELD) feed.held.shift();
      return false;
    }
    // Handed over by a refill already: its read ran ahead of pub/sub.
    if (this.seen(feed, position)) return false;
    feed.epoch = position.epoch;
    feed.offset = position.offset;
    return true;
  }

  /** The link dropped: every feed holds its live messages until it is refilled. */
  cutOff(): void {
    this.drops++;
    for (const feed of this.feeds.values()) feed.held ??= [];
  }

  /**
   * Replays each held feed's missed messages, then its held ones, skipping what was
   * handed over already and reporting each gap. Call it only while the link is up
   * (its subscriptions back). Resolves false when some feed still waits: a read
   * failed, or the link dropped again meanwhile (what came after may have a gap); a
   * later refill takes it up from where this one got.
   */
  async refill(source: FeedSource): Promise<boolean> {
    const drops = this.drops;
    let complete = true;
    await Promise.all(
      [...this.feeds.values()].map(async (feed) => {
        if (!feed.held) return;
        let read: RoomRead | undefined;
        try {
          read = await this.readFor(feed, source);
        } catch {
          complete = false;
          return;
        }
        // Unsubscribed meanwhile, or refilled by another run.
        if (this.feeds.get(feed.channel) !== feed || !feed.held) return;
        if (read?.recovered) {
          for (const { offset, frame } of read.messages) {
            const position = { room: feed.room, offset, epoch: read.epoch };
            this.pass(feed, { channels: [feed.channel], frame, except: [], position }, source);
          }
        } else if (read) {
          // Lost up to the first message still at hand (one held since the link came
          // back, of the read's epoch), or up to the stream's end.
          const first = feed.held.find(({ position }) => position!.epoch === read.epoch);
          const position = {
            epoch: read.epoch,
            offset: (first?.position!.offset ?? read.offset + 1) - 1,
          };
          source.lost(feed.channel, feed.room, position);
          feed.epoch = position.epoch;
          feed.offset = position.offset;
        }
        const held = feed.held;
        if (this.drops !== drops) {
          // Dropped again while reading: the held ones may follow a gap; keep holding.
          feed.held = held.filter(({ position }) => !this.seen(feed, position!));
          complete = false;
          return;
        }
        feed.held = undefined;
        for (const publication of held) this.pass(feed, publication, source);
      }),
    );
    return complete;
  }

  /**
   * The feed's missed messages: after its place; and when the room's epoch changed
   * (its history was lost: a Redis that came back empty), the new epoch's messages
   * from its start, which the stream may still keep. Undefined for a feed that knows
   * no place yet.
   */
  private async readFor(feed: Feed, source: FeedSource): Promise<RoomRead | undefined> {
    if (feed.epoch === undefined) return undefined;
    const read = await source.read(feed.room, { epoch: feed.epoch, offset: feed.offset });
    if (read.recovered || read.epoch === feed.epoch) return read;
    const fresh = await source.read(feed.room, { epoch: read.epoch, offset: 0 });
    if (!fresh.recovered) return read;
    // What came before the new epoch is lost: said first, then the new epoch follows.
    source.lost(feed.channel, feed.room, { epoch: read.epoch, offset: 0 });
    feed.epoch = read.epoch;
    feed.offset = 0;
    return fresh;
  }

  /** Whether a message at `position` was handed over already. */
  private seen(feed: Feed, { offset, epoch }: NonNullable<EnginePublication['position']>): boolean {
    return epoch === feed.epoch && offset <= feed.offset;
  }

  /** Hands over a message of a refill unless it was already; reports a gap before it. */
  private pass(feed: Feed, publication: EnginePublication, source: FeedSource): void {
    const { offset, epoch } = publication.position!;
    if (this.seen(feed, publication.position!)) return;
    if (feed.epoch !== undefined && (epoch !== feed.epoch || offset !== feed.offset + 1)) {
      source.lost(feed.channel, feed.room, { epoch: epoch!, offset: offset - 1 });
    }
    feed.epoch = epoch;
    feed.offset = offset;
    source.deliver(publication);
  }
}
