import type { RoomJoin } from '../core/hub/room-joins.js';
import type { RealtimeHub } from '../core/realtime-hub.js';
import { RealtimeConnection, type RealtimePrincipal } from '../core/realtime-connection.js';
import type { StreamPosition } from '../engines/realtime-engine.interface.js';
import { CloseCode, BuiltinEvent, eventIdFormat, type OutboundFrame } from '../protocol/index.js';

/** The data of the hub's `rt:resync` frame: a room's messages were lost to this node. */
type ResyncData = { readonly room: string } & StreamPosition;

/**
 * Where a client resumes from: its position in each room, `'unreadable'` for an id
 * this server did not write, or `undefined` for a first connection.
 *
 * @example
 * ```ts
 * const resume: ResumePoint = new Map([['lobby', { epoch: 'Zk3x9aQe', offset: 41 }]]);
 * ```
 */
export type ResumePoint = ReadonlyMap<string, StreamPosition> | 'unreadable' | undefined;

/**
 * Where a stream's events go: an HTTP response (the SSE endpoint), an Observable
 * that Nest's `@Sse()` writes (the SSE helpers), or a gRPC call.
 *
 * @example
 * ```ts
 * const sink: StreamSink = { ids: true, event: (id, event, data) => write(id, event, data), comment: () => {}, buffered: 0, end: () => response.end() };
 * ```
 */
export interface StreamSink {
  /** Whether events carry their SSE id (the stream's place in every room); gRPC's do not. */
  readonly ids: boolean;
  /** One event: a frame of the hub, or the JSON text of the stream's own (`rt:joined`, `rt:resync`). */
  event(id: string | undefined, event: string, data: OutboundFrame | string): void;
  /** A comment line, which clients ignore: the keep-alive. */
  comment(text: string): void;
  /** Bytes written but not yet sent to the client (0 when the sink cannot tell). */
  readonly buffered: number;
  /**
   * Ends the stream (why, as a close code: `CloseCode.SlowConsumer`, `GoingAway`,
   * ...), or cuts it when bytes still wait for a client that does not read; the
   * sink's owner then learns the stream is over.
   */
  end(code: number, reason: string): void;
}

/**
 * One one-way stream of events (SSE, a gRPC subscription), as the hub sees it: a
 * connection that receives the messages of its rooms (and of its user, and
 * broadcasts) and writes each as an event with its place in every room of the
 * stream (the SSE id), telling the client with `rt:resync` when it resumed a room
 * from a place it could not go on from.
 *
 * @example
 * ```ts
 * const connection = new StreamConnection(hub.nextConnectionId(), principal, sink, 4 << 20, ['lobby'], 'sse');
 * ```
 */
export class StreamConnection extends RealtimeConnection {
  /**
   * The stream's place in each of its own rooms, once known: what event ids carry.
   * Each is the stream's own object, moved on as events go (see `place`).
   */
  private readonly positions = new Map<string, { epoch: string; offset: number }>();
  /** The stream's own rooms (the app may join it to others, which its ids do not carry). */
  private readonly ownRooms: ReadonlySet<string>;
  private readonly formatId: (positions: ReadonlyMap<string, StreamPosition>) => string;
  /**
   * Rooms resumed from a client's position (`null`: from an id that could not be
   * read), until their first event or their join shows whether the resume held.
   */
  private readonly resuming = new Map<string, StreamPosition | null>();
  private open = true;

  constructor(
    id: string,
    principal: RealtimePrincipal,
    private readonly sink: StreamSink,
    private readonly maxBufferedBytes: number,
    /** The stream's rooms, in its order: what its ids are made of. */
    private readonly streamRooms: readonly string[],
    /** The transport's name: `sse`, `grpc`. */
    readonly transport: string,
    /** Whether the client acknowledges messages (a gRPC session does; SSE cannot). */
    private readonly acknowledges = false,
  ) {
    super(id, principal);
    this.ownRooms = new Set(streamRooms);
    this.formatId = eventIdFormat(streamRooms);
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Only a stream that acknowledges gets acknowledged delivery; none answers calls. */
  override get answers(): boolean {
    return this.acknowledges;
  }

  override get buffered(): number {
    return this.sink.buffered;
  }

  /** Past half of `maxBufferedBytes` waiting: volatile messages skip this stream. */
  override get congested(): boolean {
    return this.sink.buffered > this.maxBufferedBytes / 2;
  }

  /**
   * @internal Joins the stream's rooms, from where the client was. A room that cannot
   * be resumed gets an `rt:resync` event before its live ones; `rt:joined` ends it.
   */
  async joinAll(hub: RealtimeHub, resume: ResumePoint): Promise<void> {
    // Every resumed room first: until its join, the ids still carry its old place.
    for (const room of this.streamRooms) {
      if (resume === 'unreadable') this.resumeFrom(room, null);
      else if (resume?.has(room)) this.resumeFrom(room, resume.get(room)!);
    }
    for (const room of this.streamRooms) {
      if (!this.open) return;
      const since = resume === 'unreadable' ? undefined : resume?.get(room);
      this.joined(room, await hub.join(this, room, since ? { since } : {}));
    }
    this.allJoined();
  }

  /**
   * @internal Before joining any room: where the client comes back from in a room
   * (`null` when its id could not be read). Its first event, or its join, then tells
   * whether the stream goes on without a gap; `rt:resync` says it does not.
   */
  resumeFrom(room: string, since: StreamPosition | null): void {
    this.resuming.set(room, since);
    if (since) this.positions.set(room, { epoch: since.epoch, offset: since.offset });
  }

  /** @internal After joining a room: a resumed room that got no event yet learns its fate. */
  joined(room: string, join: RoomJoin): void {
    if (this.resuming.has(room)) {
      const since = this.resuming.get(room);
      this.resuming.delete(room);
      if (since === null || join.recovered === false) {
        this.resync(room, join);
        return;
      }
    }
    const known = this.positions.get(room);
    if (!known || (known.epoch === join.epoch && known.offset < join.offset)) {
      this.positions.set(room, { epoch: join.epoch, offset: join.offset });
    }
  }

  send(frame: OutboundFrame): void {
    if (!this.open) return;
    const info = frame.facts;
    // A one-way stream cannot answer a server call.
    if (!info || info.event === BuiltinEvent.Call) return;
    if (info.ack !== undefined && !this.acknowledges) return;
    if (info.event === BuiltinEvent.Resync) {
      // The node lost messages of a room (see the hub): the stream goes on from there.
      const { room, epoch, offset } = info.data as ResyncData;
      if (!this.rooms.has(room)) return;
      this.resuming.delete(room); // told already: its next event needs no other resync
      this.resync(room, { epoch, offset });
      return;
    }
    let id: string | undefined;
    const { room, offset, epoch } = info;
    if (room !== undefined && offset !== undefined && this.rooms.has(room)) {
      if (this.resuming.has(room)) {
        const since = this.resuming.get(room);
        this.resuming.delete(room);
        // The first event after the client's position must be the next one.
        if (!since || epoch !== since.epoch || offset !== since.offset + 1) {
          this.resync(room, { epoch: epoch!, offset: offset - 1 });
        }
      }
      this.place(room, { epoch: epoch!, offset });
      id = this.placeId();
    }
    this.sink.event(id, frame.eventLine, frame); // an SSE event's name is one line
    this.countSent(frame.bytes.length);
    if (this.sink.buffered > this.maxBufferedBytes) {
      this.close(CloseCode.SlowConsumer, 'the client reads too slowly');
    }
  }

  /**
   * @internal Once every room is joined: an `rt:joined` event whose id holds the
   * stream's place in all of them, so that a client that comes back resumes each
   * room, even one that has had no event yet.
   */
  allJoined(): void {
    if (!this.open) return;
    const rooms = this.streamRooms.map((room) => ({ room, ...this.positions.get(room) }));
    const id = this.placeId();
    this.sink.event(id, BuiltinEvent.Joined, JSON.stringify({ rooms }));
  }

  /** @internal The keep-alive. */
  keepAlive(): void {
    if (this.open) this.sink.comment('');
  }

  /** Ends the stream; the code says why (SSE sends none, gRPC maps it to a status). */
  close(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.endedWith(code);
    this.sink.end(code, reason);
  }

  private resync(room: string, position: StreamPosition): void {
    if (!this.open) return;
    this.place(room, position);
    const data = JSON.stringify({ room, epoch: position.epoch, offset: position.offset });
    this.sink.event(this.placeId(), BuiltinEvent.Resync, data);
  }

  /** Records the stream's place in a room of its own (no other room is in its ids). */
  private place(room: string, { epoch, offset }: StreamPosition): void {
    if (!this.ownRooms.has(room)) return;
    const known = this.positions.get(room);
    if (known === undefined) this.positions.set(room, { epoch, offset });
    else {
      // Every position in the map is the stream's own object: moved on, not made anew.
      known.epoch = epoch;
      known.offset = offset;
    }
  }

  /** The SSE id of the stream's place now, for a sink that writes ids (per recipient: only then). */
  private placeId(): string | undefined {
    return this.sink.ids ? this.formatId(this.positions) : undefined;
  }
}
