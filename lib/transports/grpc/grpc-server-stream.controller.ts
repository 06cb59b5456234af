import { status, type Metadata, type ServerWritableStream } from '@grpc/grpc-js';
import { Controller, Inject, Logger } from '@nestjs/common';
import { GrpcMethod, RpcException } from '@nestjs/microservices';
import { Observable, type Subscriber } from 'rxjs';
import { assertCanJoin } from '../../core/authorize.js';
import { assertUserIds, type PresenceState } from '../../core/presence/presence-state.js';
import { PresenceService } from '../../core/presence/presence.service.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import type { StreamPosition } from '../../engines/realtime-engine.interface.js';
import { BuiltinEvent, encodeFrame, ErrorCode, RealtimeError } from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { PresenceOptions } from '../../core/presence/presence.options.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import type { ResumePoint, StreamConnection } from '../stream-connection.js';
import {
  positionOf,
  presenceMessage,
  REALTIME_SERVICE,
  roomName,
  type SubscribeRequest,
} from './grpc-messages.js';
import { callSink, type EventMessage } from './grpc-sink.js';
import type { ConnectionHandshake } from '../../core/lifecycle/connection-lifecycle.js';
import { RealtimeGrpcStreams } from './grpc-streams.service.js';
import {
  closeStatus,
  grpcError,
  rpcException,
  toGrpcError,
  type GrpcError,
} from './grpc-errors.js';
import { authenticateRpc } from './grpc-support.js';
import { logFailure } from '../../engines/engine-unavailable.error.js';

/**
 * The server-streaming calls of realtime.v1.Realtime (docs/grpc.md): Subscribe (the
 * messages of rooms) and WatchPresence (users' presence), each a connection of the
 * hub whose events go to the call.
 */
@Controller()
export class RealtimeGrpcServerStreamController {
  private readonly logger = new Logger('RealtimeGrpc');

  constructor(
    private readonly hub: RealtimeHub,
    private readonly presence: PresenceService,
    private readonly streams: RealtimeGrpcStreams,
    @Inject(REALTIME_OPTIONS) private readonly realtime: ResolvedRealtimeOptions,
  ) {}

  @GrpcMethod(REALTIME_SERVICE, 'Subscribe')
  async subscribe(
    request: SubscribeRequest,
    metadata: Metadata,
    call: ServerWritableStream<unknown, unknown>,
  ) {
    const handshake = this.streams.handshake();
    const principal = await this.authenticate(metadata, 'Subscribe', handshake);
    let rooms: string[];
    let resume: Map<string, StreamPosition>;
    try {
      const maxLength = this.hub.maxRoomNameLength;
      rooms = [...new Set((request.rooms ?? []).map((room) => roomName(room, maxLength)))];
      const max = this.realtime.rooms.maxPerConnection;
      if (rooms.length === 0 || rooms.length > max) {
        throw new RealtimeError(ErrorCode.InvalidData, `a subscription has 1 to ${max} rooms`);
      }
      resume = new Map((request.since ?? []).map((position) => positionOf(position, maxLength)));
      for (const room of rooms) await assertCanJoin(this.realtime.authorize, principal, room);
    } catch (error) {
      handshake.refused('invalid');
      throw rpcException(error);
    }
    return this.stream(
      call,
      principal,
      rooms,
      (connection) => connection.joinAll(this.hub, resume satisfies ResumePoint),
      undefined,
      handshake,
    );
  }

  @GrpcMethod(REALTIME_SERVICE, 'WatchPresence')
  async watchPresence(
    request: { users?: string[] },
    metadata: Metadata,
    call: ServerWritableStream<unknown, unknown>,
  ) {
    const handshake = this.streams.handshake();
    const principal = await this.authenticate(metadata, 'WatchPresence', handshake);
    const users = request.users ?? [];
    try {
      if (!this.presence.enabled) throw new RealtimeError(ErrorCode.InvalidData, 'presence is off');
      assertUserIds(users);
      const max = (this.realtime.presence as Required<PresenceOptions>).maxWatchedPerConnection;
      if (new Set(users).size > max) {
        throw new RealtimeError(ErrorCode.WatchLimitReached, `a watch has ${max} users at most`);
      }
    } catch (error) {
      handshake.refused('invalid');
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
      handshake,
    );
  }

  /** The caller of a stream being opened; a refusal ends the handshake (and is counted). */
  private async authenticate(
    metadata: Metadata,
    method: string,
    handshake: ConnectionHandshake,
  ): Promise<RealtimePrincipal> {
    try {
      return await authenticateRpc(this.realtime.authenticate, metadata, method, handshake.refused);
    } catch (error) {
      handshake.end(); // a refusal ended it already; a hook that failed ends it here
      throw error;
    }
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
    wrap: ((event: EventMessage) => object | undefined) | undefined,
    handshake: ConnectionHandshake,
  ): Observable<never> {
    return new Observable<never>((subscriber) => {
      if (this.streams.isClosing) {
        handshake.refused('unavailable');
        subscriber.error(
          rpcException(grpcError(status.UNAVAILABLE, 'the server is shutting down')),
        );
        return undefined;
      }
      try {
        this.streams.admit(principal, handshake);
      } catch (error) {
        subscriber.error(rpcException(error));
        return undefined;
      }
      const end = (code: number, reason: string) =>
        endSubscriber(subscriber, closeStatus(code, reason));
      // Subscribe's events are Event messages as they are: encoded once, when they can be.
      const writer = wrap ? undefined : this.streams.eventWriter;
      const sink = writer
        ? writer.sink(call, end)
        : callSink(call, wrap ?? ((event) => event), end);
      const connection = this.streams.connection(principal, rooms, sink);
      this.streams.open(connection);
      handshake.opened(connection);
      start(connection).catch((error: unknown) => {
        if (!connection.isOpen) return;
        if (!(error instanceof RealtimeError))
          logFailure(this.logger, 'a gRPC stream failed', error);
        endSubscriber(subscriber, toGrpcError(error));
        this.streams.finish(connection);
      });
      return () => this.streams.finish(connection);
    });
  }
}

/** A watch's `rt:presence` events as PresenceState messages; other events are not for it. */
function presenceOfEvent(event: EventMessage): object | undefined {
  if (event.event !== BuiltinEvent.Presence) return undefined;
  return presenceMessage(JSON.parse(event.data) as PresenceState);
}

/** Ends a server stream's Observable: with the status, or OK. */
function endSubscriber(subscriber: Subscriber<never>, error: GrpcError | undefined): void {
  // Through Nest's exception filter: an RpcException's error goes out as it is.
  if (error) subscriber.error(new RpcException(error));
  else subscriber.complete();
}
