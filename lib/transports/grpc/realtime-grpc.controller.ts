import {
  status,
  type Metadata,
  type ServerDuplexStream,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { Controller, Inject, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { GrpcMethod, GrpcStreamCall, GrpcStreamMethod, RpcException } from '@nestjs/microservices';
import { Observable, concatMap, map, tap, toArray, type Subscriber } from 'rxjs';
import { assertCanJoin, assertCanPublish } from '../../core/authorize.js';
import { builtinHandlers, type BuiltinHandler } from '../../core/builtin-events.js';
import { DeliveryService } from '../../core/delivery/delivery.service.js';
import {
  assertUserEvent,
  encodeFrame,
  CloseCode,
  ErrorCode,
  RealtimeError,
  assertRoomName,
  BuiltinEvent,
} from '../../protocol/index.js';
import { assertUserIds, type PresenceState } from '../../core/presence/presence-state.js';
import { PresenceService } from '../../core/presence/presence.service.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { RpcService } from '../../core/rpc/rpc.service.js';
import type { StreamPosition } from '../../engines/realtime-engine.interface.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type {
  GrpcOptions,
  PresenceOptions,
  ResolvedRealtimeOptions,
} from '../../realtime.options.js';
import { TokenBucket } from '../websocket/token-bucket.js';
import { StreamConnection, type ResumePoint, type StreamSink } from '../stream-connection.js';
import { callSink, type CallSink, type EventMessage } from './grpc-sink.js';
import {
  authenticateCall,
  closeStatus,
  grpcError,
  parseJson,
  rpcException,
  toGrpcError,
  type GrpcError,
} from './grpc-support.js';

/** The messages of protos/realtime/v1/realtime.proto, as proto-loader hands them over. */
interface PublishRequest {
  room?: string;
  event?: string;
  data?: string;
}
interface PositionMessage {
  room?: string;
  epoch?: string;
  offset?: number;
}
interface SubscribeRequest {
  rooms?: string[];
  since?: PositionMessage[];
}
interface SessionRequest {
  id?: string;
  join?: { room?: string; since?: PositionMessage };
  leave?: { room?: string };
  publish?: PublishRequest;
  ack?: { id?: string };
}

const SERVICE = 'Realtime';
/** Messages of a PublishStream that may wait for their turn; more end the call. */
const MAX_WAITING = 1_000;

/**
 * The gRPC API of protos/realtime/v1/realtime.proto (docs/grpc.md): the four kinds of
 * calls, bridged to the same rooms and presence as every other transport.
 * Registered by `RealtimeGrpcModule`; served once `connectRealtimeGrpc(app)` runs.
 *
 * @example
 * ```ts
 * const client = new proto.realtime.v1.Realtime('localhost:50051', credentials.createInsecure());
 * client.Publish({ room: 'lobby', event: 'chat', data: '{"text":"hi"}' }, (error, reply) => ...);
 * ```
 */
@Controller()
export class RealtimeGrpcController implements BeforeApplicationShutdown {
  private readonly logger = new Logger('RealtimeGrpc');
  private readonly builtins: ReadonlyMap<string, BuiltinHandler>;
  private readonly options: Readonly<Required<GrpcOptions>>;
  /** Open subscriptions and sessions, ended at shutdown. */
  private readonly streams = new Set<StreamConnection>();
  private closing = false;

  constructor(
    private readonly hub: RealtimeHub,
    private readonly presence: PresenceService,
    private readonly rpc: RpcService,
    delivery: DeliveryService,
    @Inject(REALTIME_OPTIONS) private readonly realtime: ResolvedRealtimeOptions,
  ) {
    this.builtins = builtinHandlers(hub, presence, rpc, delivery, realtime.authorize);
    this.options = realtime.grpc ?? { url: '', maxBufferedBytes: 4 << 20 };
  }

  /** Subscriptions and sessions open now. */
  get size(): number {
    return this.streams.size;
  }

  // -- unary ----------------------------------------------------------------------

  @GrpcMethod(SERVICE, 'Publish')
  async publish(request: PublishRequest, metadata: Metadata) {
    const principal = await this.authenticate(metadata, 'Publish');
    try {
      return await this.publishOne(principal, request);
    } catch (error) {
      throw rpcException(error);
    }
  }

  @GrpcMethod(SERVICE, 'GetRoom')
  async getRoom(request: { room?: string }, metadata: Metadata) {
    const principal = await this.authenticate(metadata, 'GetRoom');
    try {
      const room = this.roomName(request.room);
      await assertCanJoin(this.realtime.authorize, principal, room);
      const [info, users] = await Promise.all([this.hub.roomInfo(room), this.hub.roomUsers(room)]);
      if (!info) throw new RealtimeError(ErrorCode.RoomNotFound, `no room "${room}"`);
      return { ...info, users };
    } catch (error) {
      throw rpcException(error);
    }
  }

  @GrpcMethod(SERVICE, 'GetStatuses')
  async getStatuses(request: { users?: string[] }, metadata: Metadata) {
    const principal = await this.authenticate(metadata, 'GetStatuses');
    try {
      const users = request.users ?? [];
      assertUserIds(users);
      const states = await this.presence.getStatuses(users, { viewer: principal.userId });
      return { statuses: states.map(presenceMessage) };
    } catch (error) {
      throw rpcException(error);
    }
  }

  @GrpcMethod(SERVICE, 'Call')
  async call(request: { method?: string; params?: string }, metadata: Metadata) {
    const principal = await this.authenticate(metadata, 'Call');
    try {
      if (!request.method) throw new RealtimeError(ErrorCode.InvalidData, 'method is required');
      const params = parseJson(request.params, 'params');
      // The caller, as RPC handlers see it: a connection of its own, in no room.
      const caller = this.connection(principal, [], NO_SINK);
      const result = await this.rpc.invoke(caller, request.method, params);
      return { result: JSON.stringify(result ?? null) };
    } catch (error) {
      throw rpcException(error);
    }
  }

  // -- server streaming -------------------------------------------------------------

  @GrpcMethod(SERVICE, 'Subscribe')
  async subscribe(
    request: SubscribeRequest,
    metadata: Metadata,
    call: ServerWritableStream<unknown, unknown>,
  ) {
    const principal = await this.authenticate(metadata, 'Subscribe');
    let rooms: string[];
    let resume: Map<string, StreamPosition>;
    try {
      rooms = [...new Set((request.rooms ?? []).map((room) => this.roomName(room)))];
      const max = this.realtime.rooms.maxPerConnection;
      if (rooms.length === 0 || rooms.length > max) {
        throw new RealtimeError(ErrorCode.InvalidData, `a subscription has 1 to ${max} rooms`);
      }
      resume = new Map((request.since ?? []).map((position) => this.position(position)));
      for (const room of rooms) await assertCanJoin(this.realtime.authorize, principal, room);
    } catch (error) {
      throw rpcException(error);
    }
    return this.stream(call, principal, rooms, (connection) =>
      connection.joinAll(this.hub, resume satisfies ResumePoint),
    );
  }

  @GrpcMethod(SERVICE, 'WatchPresence')
  async watchPresence(
    request: { users?: string[] },
    metadata: Metadata,
    call: ServerWritableStream<unknown, unknown>,
  ) {
    const principal = await this.authenticate(metadata, 'WatchPresence');
    const users = request.users ?? [];
    try {
      if (!this.presence.enabled) throw new RealtimeError(ErrorCode.InvalidData, 'presence is off');
      assertUserIds(users);
      const max = (this.realtime.presence as Required<PresenceOptions>).maxWatchedPerConnection;
      if (new Set(users).size > max) {
        throw new RealtimeError(ErrorCode.WatchLimitReached, `a watch has ${max} users at most`);
      }
    } catch (error) {
      throw rpcException(error);
    }
    return this.stream(
      call,
      principal,
      [],
      async (connection) => {
        const states = await this.presence.watchFor(connection, users);
        // As the frames a watcher gets: through the connection, so bounded and in order.
        for (const state of states)
          connection.send(encodeFrame({ event: BuiltinEvent.Presence, data: state }));
      },
      (message) => presenceOfEvent(message),
    );
  }

  // -- client streaming -------------------------------------------------------------

  @GrpcStreamMethod(SERVICE, 'PublishStream')
  publishStream(messages: Observable<PublishRequest>, metadata: Metadata) {
    // Subscribed at once (the messages may come before the authentication ends), and
    // handled one after the other; at most MAX_WAITING wait for their turn.
    const principal = this.authenticate(metadata, 'PublishStream');
    principal.catch(() => undefined); // the first message's turn reports it
    let waiting = 0;
    return messages.pipe(
      tap(() => {
        if (++waiting > MAX_WAITING) {
          throw rpcException(
            new RealtimeError(
              ErrorCode.TooManyRequests,
              `more than ${MAX_WAITING} messages waiting`,
            ),
          );
        }
      }),
      concatMap(async (message, index) => {
        const caller = await principal;
        try {
          return { index, published: await this.publishOne(caller, message) };
        } catch (error) {
          return { index, error: toGrpcError(error) };
        } finally {
          waiting--;
        }
      }),
      toArray(),
      // An empty stream still needs the caller authenticated.
      concatMap(async (outcomes) => (await principal, outcomes)),
      map((outcomes) => {
        const published = outcomes.flatMap((o) => ('published' in o ? [o.published!] : []));
        const rejected = outcomes.flatMap((o) =>
          o.error ? [{ index: o.index, ...rejection(o.error) }] : [],
        );
        return { count: published.length, published, rejected };
      }),
    );
  }

  // -- bidirectional ----------------------------------------------------------------

  @GrpcStreamCall(SERVICE, 'Session')
  async session(call: ServerDuplexStream<SessionRequest, unknown>): Promise<void> {
    // Listened to from the start: a cancel (or a deadline) during authenticate counts.
    let gone = false;
    call.once('cancelled', () => (gone = true));
    let principal: RealtimePrincipal;
    try {
      principal = await this.authenticate(call.metadata, 'Session');
    } catch (error) {
      endCall(call, (error as RpcErrorLike).getError?.() as GrpcError);
      return;
    }
    if (gone || call.cancelled) return;
    if (this.closing) {
      endCall(call, grpcError(status.UNAVAILABLE, 'the server is shutting down'));
      return;
    }
    const sink = callSink(
      call,
      (event) => ({ event }),
      (code, reason) => endCall(call, closeStatus(code, reason)),
    );
    const connection = this.connection(principal, [], sink, true);
    this.open(connection);
    const done = (): void => this.finish(connection);
    call.once('cancelled', done);
    call.once('error', done);
    call.once('finish', done);
    const limit = this.realtime.rateLimit;
    const bucket = limit
      ? new TokenBucket(limit.messagesPerSecond, limit.messageBurst, performance.now())
      : undefined;
    // Requests are handled one after the other, in order; at most MAX_WAITING wait.
    let queue = Promise.resolve();
    let waiting = 0;
    call.on('data', (request: SessionRequest) => {
      if (++waiting > MAX_WAITING) {
        connection.close(CloseCode.SlowConsumer, `more than ${MAX_WAITING} requests waiting`);
        return;
      }
      const admitted = !bucket || bucket.take(1, performance.now());
      queue = queue.then(async () => {
        await this.handleSession(connection, sink, request, admitted);
        waiting--;
      });
    });
    call.on('end', () => {
      // The client ended its side: the session ends once its requests are answered.
      void queue.then(() => {
        this.finish(connection);
        endCall(call, undefined);
      });
    });
  }

  /** Ends every stream with UNAVAILABLE before the gRPC server closes: clients go elsewhere. */
  beforeApplicationShutdown(): void {
    this.closing = true;
    for (const connection of this.streams) {
      connection.close(CloseCode.GoingAway, 'the server is shutting down');
    }
  }

  // -- the parts ------------------------------------------------------------------

  private async handleSession(
    connection: StreamConnection,
    sink: CallSink,
    request: SessionRequest,
    admitted: boolean,
  ): Promise<void> {
    if (!connection.isOpen) return;
    const id = request.id ?? '';
    let reply: { id: string; data: string; code: string; message: string };
    try {
      if (!admitted) throw new RealtimeError(ErrorCode.RateLimited, 'too many requests');
      const [event, data] = this.sessionRequest(request);
      const result = await this.builtins.get(event)!(connection, data);
      reply = { id, data: JSON.stringify(result ?? null), code: '', message: '' };
    } catch (error) {
      const { code, message } =
        error instanceof RealtimeError
          ? error
          : { code: ErrorCode.InternalError, message: 'Internal server error' };
      if (!(error instanceof RealtimeError)) {
        this.logger.error('a session request failed', error instanceof Error ? error.stack : error);
      }
      reply = { id, data: '', code, message };
    }
    if (!connection.isOpen) return;
    sink.send({ reply }, id.length + reply.data.length + reply.message.length + 64);
    if (sink.buffered > this.options.maxBufferedBytes) {
      connection.close(CloseCode.SlowConsumer, 'the client reads too slowly');
    }
  }

  /** A session request as the built-in event it is (the same checks as over WebSocket). */
  private sessionRequest(request: SessionRequest): [string, unknown] {
    if (request.join) {
      const { room, since } = request.join;
      return [
        BuiltinEvent.Join,
        since
          ? { room, since: { epoch: since.epoch, offset: Number(since.offset ?? 0) } }
          : { room },
      ];
    }
    if (request.leave) return [BuiltinEvent.Leave, { room: request.leave.room }];
    if (request.publish) {
      const { room, event, data } = request.publish;
      return [BuiltinEvent.Publish, { room, event, data: parseJson(data, 'data') }];
    }
    if (request.ack) return [BuiltinEvent.Ack, { id: request.ack.id }];
    throw new RealtimeError(ErrorCode.InvalidData, 'a request is one of join, leave, publish, ack');
  }

  /** One message to a room, checked like any client's. */
  private async publishOne(principal: RealtimePrincipal, request: PublishRequest) {
    const room = this.roomName(request.room);
    const event = request.event ?? '';
    assertUserEvent(event);
    const data = parseJson(request.data, 'data');
    await assertCanPublish(this.realtime.authorize, principal, room, { event, data });
    const position = (await this.hub.to(room).emit(event, data))!;
    return { room, epoch: position.epoch, offset: position.offset };
  }

  /**
   * A server stream: a connection of the hub whose events go to the call, ended when
   * the client cancels (or its deadline passes), or the stream ends from here.
   */
  private stream(
    call: ServerWritableStream<unknown, unknown>,
    principal: RealtimePrincipal,
    rooms: readonly string[],
    start: (connection: StreamConnection) => Promise<void>,
    wrap: (event: EventMessage) => object | undefined = (event) => event,
  ): Observable<never> {
    return new Observable<never>((subscriber) => {
      if (this.closing) {
        subscriber.error(
          rpcException(grpcError(status.UNAVAILABLE, 'the server is shutting down')),
        );
        return undefined;
      }
      const sink = callSink(call, wrap, (code, reason) =>
        endSubscriber(subscriber, closeStatus(code, reason)),
      );
      const connection = this.connection(principal, rooms, sink);
      this.open(connection);
      start(connection).catch((error: unknown) => {
        if (!connection.isOpen) return;
        if (!(error instanceof RealtimeError)) {
          this.logger.error('a gRPC stream failed', error instanceof Error ? error.stack : error);
        }
        endSubscriber(subscriber, toGrpcError(error));
        this.finish(connection);
      });
      return () => this.finish(connection);
    });
  }

  private connection(
    principal: RealtimePrincipal,
    rooms: readonly string[],
    sink: StreamSink,
    acknowledges = false,
  ): StreamConnection {
    return new StreamConnection(
      this.hub.nextConnectionId(),
      principal,
      sink,
      this.options.maxBufferedBytes,
      rooms,
      'grpc',
      acknowledges,
    );
  }

  private open(connection: StreamConnection): void {
    this.streams.add(connection);
    this.hub.addConnection(connection).catch((error: unknown) => {
      this.logger.error(
        'the engine refused a gRPC stream',
        error instanceof Error ? error.stack : error,
      );
      connection.close(CloseCode.InternalError, 'engine unavailable');
    });
  }

  private finish(connection: StreamConnection): void {
    connection.close(CloseCode.GoingAway, 'the call ended');
    if (!this.streams.delete(connection)) return;
    this.hub.removeConnection(connection).catch((error: unknown) => {
      this.logger.error(
        'removing a gRPC stream failed',
        error instanceof Error ? error.stack : error,
      );
    });
  }

  private async authenticate(metadata: Metadata, method: string): Promise<RealtimePrincipal> {
    try {
      return await authenticateCall(this.realtime.authenticate, metadata, method);
    } catch (error) {
      throw rpcException(error);
    }
  }

  private roomName(room: string | undefined): string {
    assertRoomName(room ?? '', this.hub.maxRoomNameLength);
    return room!;
  }

  private position({ room, epoch, offset }: PositionMessage): [string, StreamPosition] {
    const name = this.roomName(room);
    if (!epoch || !Number.isSafeInteger(Number(offset ?? 0))) {
      throw new RealtimeError(ErrorCode.InvalidData, 'since needs an epoch and an offset');
    }
    return [name, { epoch, offset: Number(offset ?? 0) }];
  }
}

/** Nest's RpcException, as far as a raw call needs it. */
interface RpcErrorLike {
  getError?(): unknown;
}

/** The sink of a connection that sends nothing (an RPC caller). */
const NO_SINK: StreamSink = {
  event: () => undefined,
  comment: () => undefined,
  ids: false,
  buffered: 0,
  end: () => undefined,
};

function presenceMessage(state: PresenceState) {
  return {
    userId: state.userId,
    status: state.status,
    meta: JSON.stringify(state.meta),
    since: state.since ?? 0,
  };
}

/** A watch's `rt:presence` events as PresenceState messages; other events are not for it. */
function presenceOfEvent(event: EventMessage): object | undefined {
  if (event.event !== BuiltinEvent.Presence) return undefined;
  return presenceMessage(JSON.parse(event.data) as PresenceState);
}

function rejection(error: GrpcError): { code: string; message: string } {
  const [code, ...rest] = error.details.split(': ');
  return rest.length > 0
    ? { code: code!, message: rest.join(': ') }
    : { code: 'INTERNAL_ERROR', message: error.details };
}

/** Ends a server stream's Observable: with the status, or OK. */
function endSubscriber(subscriber: Subscriber<never>, error: GrpcError | undefined): void {
  // Through Nest's exception filter: an RpcException's error goes out as it is.
  if (error) subscriber.error(new RpcException(error));
  else subscriber.complete();
}

/** Ends a raw call: with the status, or OK. */
function endCall(call: ServerDuplexStream<unknown, unknown>, error: GrpcError | undefined): void {
  if (call.writableEnded || call.destroyed) return;
  if (error) call.emit('error', error);
  else call.end();
}
