import {
  BadRequestException,
  HttpException,
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type MessageEvent,
} from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { Observable, type Subscriber } from 'rxjs';
import { assertCanJoin } from '../../core/authorize.js';
import { assertUserIds } from '../../core/presence/presence-state.js';
import { PresenceService } from '../../core/presence/presence.service.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import {
  CloseCode,
  ErrorCode,
  errorCodeMapping,
  RealtimeError,
  assertRoomName,
  BuiltinEvent,
  parseEventId,
} from '../../protocol/index.js';
import { ConnectionLifecycle } from '../../core/lifecycle/connection-lifecycle.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { PresenceOptions } from '../../core/presence/presence.options.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { StreamConnection, type ResumePoint, type StreamSink } from '../stream-connection.js';
import { logFailure } from '../../engines/engine-unavailable.error.js';

/** What a stream's resume point is read from: a request of either HTTP platform. */
type RequestLine = Pick<IncomingMessage, 'headers' | 'url'>;

/** What the service keeps alive and ends at shutdown: streams, and `stream()` helpers. */
interface LiveStream {
  keepAlive(): void;
  shutdown(): void;
}

/**
 * What `rooms()` and `presence()` take.
 *
 * @example
 * ```ts
 * return this.sse.rooms(request, ['lobby'], { principal: { userId: 'u1' } } satisfies SseHelperOptions);
 * ```
 */
export interface SseHelperOptions {
  /** Who the stream is for (its user counts as present); anonymous by default. */
  readonly principal?: RealtimePrincipal;
}

/**
 * Server-Sent Events for the app's own `@Sse()` handlers: a room (or several), a
 * presence watch, or any Observable, as a correct event stream in one call. Each
 * comes with ids, keep-alive comments and cleanup when the client goes or the app
 * shuts down. The built-in endpoint (`sse.path`) uses the same streams.
 *
 * @example
 * ```ts
 * @Controller('live')
 * export class LiveController {
 *   constructor(private readonly sse: RealtimeSse) {}
 *
 *   @Sse('news')
 *   news(@Req() request: Request) {
 *     // Resumes from Last-Event-ID; the id of each event is its place in the room.
 *     return this.sse.rooms(request, 'news', { principal: { userId: request.user.id } });
 *   }
 *
 *   @Sse('ticks')
 *   ticks() {
 *     return this.sse.stream(interval(1_000), { event: 'tick' });
 *   }
 * }
 * ```
 */
@Injectable()
export class RealtimeSse implements BeforeApplicationShutdown {
  private readonly logger = new Logger('RealtimeSse');
  private readonly live = new Set<LiveStream>();
  /** The endpoint's and helpers' streams, with their entry in `live`. */
  private readonly streams = new Map<StreamConnection, LiveStream>();
  private keepAliveTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly keepAliveInterval: number;
  private readonly maxBufferedBytes: number;
  private readonly maxRooms: number;

  constructor(
    private readonly hub: RealtimeHub,
    private readonly presenceService: PresenceService,
    private readonly lifecycle: ConnectionLifecycle,
    @Inject(REALTIME_OPTIONS) private readonly options: ResolvedRealtimeOptions,
  ) {
    const sse = options.sse || { keepAliveInterval: 15_000, maxBufferedBytes: 4 << 20 };
    this.keepAliveInterval = sse.keepAliveInterval;
    this.maxBufferedBytes = sse.maxBufferedBytes;
    this.maxRooms = options.rooms.maxPerConnection;
  }

  /** Streams open now: the endpoint's, and the helpers'. */
  get size(): number {
    return this.live.size;
  }

  /** Whether the app is shutting down: new streams are refused. */
  get shuttingDown(): boolean {
    return this.closing;
  }

  /**
   * The messages of one room, or several, as SSE events for an `@Sse()` handler.
   * The client resumes from its `Last-Event-ID` header, or a `lastEventId` query
   * parameter, as with the built-in endpoint. Rooms are checked (names, count,
   * `authorize.canJoin`) before anything is sent: a refusal is a 400 or 403.
   * `request` is the handler's `@Req()` on either platform (Express's `Request`,
   * Fastify's `FastifyRequest`): its headers and URL are all that is read.
   */
  async rooms(
    request: RequestLine | undefined,
    rooms: string | readonly string[],
    options: SseHelperOptions = {},
  ): Promise<Observable<MessageEvent>> {
    const names = this.checkRooms(typeof rooms === 'string' ? [rooms] : rooms);
    const principal = options.principal ?? {};
    try {
      for (const room of names) await assertCanJoin(this.options.authorize, principal, room);
    } catch (error) {
      throw httpError(error);
    }
    const resume = request ? this.resumePoint(request, names) : undefined;
    return this.observe(principal, names, (connection) => connection.joinAll(this.hub, resume));
  }

  /**
   * These users' presence as SSE events (`rt:presence`): their current states
   * first, then every change as others see it.
   */
  async presence(
    users: readonly string[],
    options: SseHelperOptions = {},
  ): Promise<Observable<MessageEvent>> {
    if (!this.presenceService.enabled) {
      throw new BadRequestException('presence is off on this server');
    }
    const presence = this.options.presence as Required<PresenceOptions>;
    try {
      assertUserIds(users);
      if (new Set(users).size > presence.maxWatchedPerConnection) {
        throw new RealtimeError(
          ErrorCode.WatchLimitReached,
          `a stream may watch ${presence.maxWatchedPerConnection} users at most`,
        );
      }
    } catch (error) {
      throw httpError(error);
    }
    return this.observe(options.principal ?? {}, [], async (connection, sink) => {
      const states = await this.presenceService.watchFor(connection, users);
      for (const state of states) {
        sink.event(undefined, BuiltinEvent.Presence, presenceFrame(state));
      }
    });
  }

  /**
   * Any Observable as SSE events: each value is one event whose data is its JSON,
   * with an id (a counter from 1, or `id(value, index)`) and an event name; plus
   * keep-alive comments, and an end at shutdown.
   */
  stream<T>(
    source: Observable<T>,
    options: {
      event?: string | ((value: T) => string);
      id?: (value: T, index: number) => string;
    } = {},
  ): Observable<MessageEvent> {
    const { event, id = (_value: T, index: number) => String(index + 1) } = options;
    return new Observable<MessageEvent>((subscriber) => {
      if (this.closing) {
        subscriber.complete();
        return undefined;
      }
      let index = 0;
      const live: LiveStream = {
        keepAlive: () => subscriber.next({ comment: '' }),
        shutdown: () => subscriber.complete(),
      };
      this.add(live);
      const subscription = source.subscribe({
        next: (value) => {
          const type = typeof event === 'function' ? event(value) : event;
          subscriber.next({ id: id(value, index++), type, data: JSON.stringify(value ?? null) });
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        this.remove(live);
      };
    });
  }

  /**
   * @internal Opens a stream for the endpoint or a helper: a connection of the hub
   * that writes to `sink`, announced by an `rt:connected` event.
   */
  open(
    principal: RealtimePrincipal,
    sink: StreamSink,
    rooms: readonly string[],
    extra: object = {},
  ): StreamConnection {
    const connection = new StreamConnection(
      this.hub.nextConnectionId(),
      principal,
      sink,
      this.maxBufferedBytes,
      rooms,
      'sse',
    );
    const info = {
      connectionId: connection.id,
      userId: connection.userId ?? null,
      keepAliveInterval: this.keepAliveInterval,
      ...extra,
    };
    sink.event(undefined, BuiltinEvent.Connected, JSON.stringify(info));
    const live: LiveStream = {
      keepAlive: () => connection.keepAlive(),
      shutdown: () => connection.close(CloseCode.GoingAway, 'the server is shutting down'),
    };
    this.streams.set(connection, live);
    this.add(live);
    void this.lifecycle.attach(connection);
    return connection;
  }

  /** @internal A stream ended (its client went, or it was closed): the hub lets it go. */
  finish(connection: StreamConnection): void {
    connection.close(CloseCode.GoingAway, 'the stream ended');
    const live = this.streams.get(connection);
    if (!live) return;
    this.streams.delete(connection);
    this.remove(live);
    this.lifecycle.detach(connection);
  }

  /**
   * @internal The client's position: the `Last-Event-ID` header (what EventSource
   * sends when it reconnects), else the `lastEventId` query parameter (a first
   * connection, which cannot set headers).
   */
  resumePoint(request: RequestLine, rooms: readonly string[]): ResumePoint {
    const header = request.headers['last-event-id'];
    const text =
      typeof header === 'string'
        ? header
        : (new URL(request.url ?? '/', 'http://localhost').searchParams.get('lastEventId') ??
          undefined);
    if (text === undefined) return undefined;
    return parseEventId(text, rooms) ?? 'unreadable';
  }

  /** @internal Room names of a stream, checked and without repeats; 400 otherwise. */
  checkRooms(rooms: readonly string[]): string[] {
    const names = [...new Set(rooms)];
    if (names.length === 0 || names.length > this.maxRooms) {
      throw new BadRequestException({
        code: ErrorCode.InvalidData,
        message: `a stream has 1 to ${this.maxRooms} rooms`,
      });
    }
    try {
      for (const room of names) assertRoomName(room, this.hub.maxRoomNameLength);
    } catch (error) {
      throw httpError(error);
    }
    return names;
  }

  /** Ends every stream, so that the HTTP server can close at once. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    // Ending a stream may remove it from the set: a Set's iteration allows that.
    for (const live of this.live) live.shutdown();
    // Nest ends a helper's response a few turns after its Observable completes; the
    // HTTP server closes only the connections idle by then, and waits for the rest.
    for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
  }

  /** A helper's Observable: a stream whose sink is the subscriber. */
  private observe(
    principal: RealtimePrincipal,
    rooms: readonly string[],
    start: (connection: StreamConnection, sink: StreamSink) => Promise<void>,
  ): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      if (this.closing) {
        subscriber.complete();
        return undefined;
      }
      const sink = subscriberSink(subscriber);
      const connection = this.open(principal, sink, rooms);
      start(connection, sink).catch((error: unknown) => this.failed(connection, error));
      return () => this.finish(connection);
    });
  }

  private failed(connection: StreamConnection, error: unknown): void {
    if (!connection.isOpen) return;
    logFailure(this.logger, 'an SSE stream failed', error);
    this.finish(connection);
  }

  private add(live: LiveStream): void {
    this.live.add(live);
    this.keepAliveTimer ??= setInterval(() => {
      for (const stream of this.live) stream.keepAlive();
    }, this.keepAliveInterval).unref();
  }

  private remove(live: LiveStream): void {
    this.live.delete(live);
    if (this.live.size > 0) return;
    clearInterval(this.keepAliveTimer);
    this.keepAliveTimer = undefined;
  }
}

/** Events into an Observable, which Nest's `@Sse()` writes and bounds. */
function subscriberSink(subscriber: Subscriber<MessageEvent>): StreamSink {
  return {
    event: (id, type, data) =>
      subscriber.next({
        ...(id !== undefined && { id }),
        type,
        data: typeof data === 'string' ? data : data.text,
      }),
    ids: true,
    comment: (text) => subscriber.next({ comment: text }),
    buffered: 0,
    end: () => subscriber.complete(),
  };
}

/** An `rt:presence` event's data, as the frame a WebSocket client gets. */
function presenceFrame(state: unknown): string {
  return JSON.stringify({ event: BuiltinEvent.Presence, data: state });
}

/** A refusal of the core as the HTTP error an `@Sse()` handler throws (its status from the code table). */
function httpError(error: unknown): Error {
  if (!(error instanceof RealtimeError)) return error as Error;
  const body = { code: error.code, message: error.message };
  return new HttpException(body, errorCodeMapping(error.code).http);
}
