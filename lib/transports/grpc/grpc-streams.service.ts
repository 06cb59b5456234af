import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { ConnectionLifecycle } from '../../core/lifecycle/connection-lifecycle.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { CloseCode, ErrorCode, RealtimeError } from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { GRPC_DEFAULTS, type GrpcOptions } from './grpc.options.js';
import type { GrpcEventWriter } from './grpc-sink.js';
import { StreamConnection, type StreamSink } from '../stream-connection.js';

/**
 * The connections gRPC calls make, shared by the controllers of every call kind:
 * made, added to the hub, removed from it, and ended all at once at shutdown.
 */
@Injectable()
export class RealtimeGrpcStreams implements BeforeApplicationShutdown {
  private readonly options: Readonly<Required<GrpcOptions>>;
  /** Open subscriptions and sessions, ended at shutdown. */
  private readonly streams = new Set<StreamConnection>();
  private closing = false;
  /**
   * Encodes Subscribe's events once for all their calls and writes each call's
   * tick at once, when the gRPC server was started by connectRealtimeGrpc (which
   * lets encoded bytes through).
   */
  eventWriter: GrpcEventWriter | undefined;

  constructor(
    private readonly hub: RealtimeHub,
    private readonly lifecycle: ConnectionLifecycle,
    @Inject(REALTIME_OPTIONS) realtime: ResolvedRealtimeOptions,
  ) {
    this.options = realtime.grpc ?? { url: '', ...GRPC_DEFAULTS };
  }

  /** Subscriptions and sessions open now. */
  get size(): number {
    return this.streams.size;
  }

  /** Whether the app is shutting down: new streams are refused. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** Bytes that may wait unsent to one stream (`grpc.maxBufferedBytes`). */
  get maxBufferedBytes(): number {
    return this.options.maxBufferedBytes;
  }

  /** Ends every stream with UNAVAILABLE before the gRPC server closes: clients go elsewhere. */
  beforeApplicationShutdown(): void {
    this.closing = true;
    for (const connection of this.streams) {
      connection.close(CloseCode.GoingAway, 'the server is shutting down');
    }
  }

  connection(
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

  /**
   * Whether one more stream of this principal may open on this node. Called just before
   * {@link open}, with nothing awaited between: the limits cannot be raced.
   *
   * @throws RealtimeError SERVER_FULL past `grpc.maxStreams` (UNAVAILABLE: try another
   *   node), TOO_MANY_CONNECTIONS past `grpc.maxStreamsPerUser` (RESOURCE_EXHAUSTED).
   */
  admit({ userId }: RealtimePrincipal): void {
    if (this.streams.size >= this.options.maxStreams) {
      throw new RealtimeError(ErrorCode.ServerFull, 'the server holds grpc.maxStreams streams');
    }
    if (
      userId !== undefined &&
      this.lifecycle.countOf(userId, 'grpc') >= this.options.maxStreamsPerUser
    ) {
      throw new RealtimeError(
        ErrorCode.TooManyConnections,
        `the user holds grpc.maxStreamsPerUser (${this.options.maxStreamsPerUser}) streams`,
      );
    }
  }

  open(connection: StreamConnection): void {
    this.streams.add(connection);
    void this.lifecycle.attach(connection);
  }

  finish(connection: StreamConnection): void {
    connection.close(CloseCode.GoingAway, 'the call ended');
    if (!this.streams.delete(connection)) return;
    this.lifecycle.detach(connection);
  }
}
