import { randomBytes } from 'node:crypto';
import type { StreamPosition } from '../../protocol/stream-position.js';
import type { HistoryRetention, RoomRead } from '../broker.interface.js';

interface Entry {
  readonly offset: number;
  readonly frame: Buffer;
  readonly at: number;
}

interface Stream {
  readonly epoch: string;
  offset: number;
  /** Kept messages, oldest first. */
  entries: Entry[];
  /** How long its messages are kept, as the last write said. */
  maxAge: number;
  /** When the stream was last written or read, and how long it may then sit idle. */
  touched: number;
  idleFor: number;
}

function toMessage({ offset, frame }: Entry): { offset: number; frame: Buffer } {
  return { offset, frame };
}

/** A stream nobody has written to is kept this long after it was last read, in ms. */
const IDLE_STREAM_TTL = 300_000;

/**
 * The room streams of the memory engine: numbering and bounded history. A stream
 * lives while it is used; one left idle past its retention (or five minutes) is
 * forgotten, and the next use starts a new epoch.
 */
export class MemoryStreams {
  private readonly streams = new Map<string, Stream>();

  clear(): void {
    this.streams.clear();
  }

  /** Numbers a message, keeps it if `retention` says so, and returns its frame. */
  append(
    room: string,
    body: Buffer,
    retention: HistoryRetention,
    now: number,
  ): { position: StreamPosition; frame: Buffer } {
    const stream = this.stream(room, now);
    stream.maxAge = retention.maxAge;
    stream.idleFor = Math.max(IDLE_STREAM_TTL, retention.maxAge);
    const offset = ++stream.offset;
    const frame = Buffer.concat([
      body,
      Buffer.from(`,"offset":${offset},"epoch":"${stream.epoch}"}`),
    ]);
    if (retention.maxCount > 0) {
      stream.entries.push({ offset, frame, at: now });
      const excess = stream.entries.length - retention.maxCount;
      if (excess > 0) stream.entries.splice(0, excess);
    }
    this.trimAged(stream, now);
    return { position: { epoch: stream.epoch, offset }, frame };
  }

  read(room: string, since: StreamPosition | undefined, limit: number, now: number): RoomRead {
    const stream = this.stream(room, now);
    this.trimAged(stream, now); // what is past its age is not kept, swept or not
    const { epoch, offset } = stream;
    const refused: RoomRead = { epoch, offset, recovered: false, messages: [] };
    if (!since) {
      const kept = limit > 0 ? stream.entries.slice(-limit) : [];
      return { epoch, offset, recovered: true, messages: kept.map(toMessage) };
    }
    if (since.epoch !== epoch || since.offset > offset) return refused;
    const missed = offset - since.offset;
    if (missed === 0) return { epoch, offset, recovered: true, messages: [] };
    if (missed > limit) return refused;
    const first = stream.entries.findIndex((entry) => entry.offset > since.offset);
    // Every missed message must still be kept: the first kept one follows `since` at once.
    if (first === -1 || stream.entries[first]!.offset !== since.offset + 1) return refused;
    return { epoch, offset, recovered: true, messages: stream.entries.slice(first).map(toMessage) };
  }

  /** Drops aged messages and idle streams. */
  sweep(now: number): void {
    for (const [room, stream] of this.streams) {
      this.trimAged(stream, now);
      if (stream.entries.length === 0 && now - stream.touched > stream.idleFor) {
        this.streams.delete(room);
      }
    }
  }

  private stream(room: string, now: number): Stream {
    let stream = this.streams.get(room);
    if (!stream) {
      const epoch = randomBytes(6).toString('base64url');
      stream = {
        epoch,
        offset: 0,
        entries: [],
        maxAge: Infinity,
        touched: now,
        idleFor: IDLE_STREAM_TTL,
      };
      this.streams.set(room, stream);
    }
    stream.touched = now;
    return stream;
  }

  private trimAged(stream: Stream, now: number): void {
    const fresh = stream.entries.findIndex((entry) => now - entry.at < stream.maxAge);
    if (fresh === -1) stream.entries = [];
    else if (fresh > 0) stream.entries.splice(0, fresh);
  }
}
