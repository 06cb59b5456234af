import { Inject, Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import {
  ConnectionLifecycle,
  type ConnectionHandshake,
} from '../../core/lifecycle/connection-lifecycle.js';
import { RateLimiter, type RateLimitPolicy } from '../../core/limits/rate-limiter.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { CloseCode, ErrorCode, RealtimeError } from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { GRPC_DEFAULTS, type GrpcOptions } from './grpc.options.js';
import type { GrpcEventWriter } from './grpc-sink.js';
import { StreamConnection, type StreamSink } from '../stream-connection.js';

/** Callers whose rate limit is kept at once; past it the one idle longest is forgotten. */
const MAX_RATE_LIMITED_CALLERS = 10_000;

/**
 * Who a gRPC call counts against for rate limits and calls waiting: its user, or for
 * an anonymous call its HTTP/2 connection (as an anonymous WebSocket is its connection).
 *
 * @example
 * ```ts
 * const key = callerOf(principal, call); // 'user:ada', or 'peer:ipv4:10.0.0.7:51234'
 * ```
 */
export function callerOf(principal: RealtimePrincipal, call: { getPeer(): string }): string {
  return principal.userId !== undefined ? `user:${principal.userId}` : `peer:${call.getPeer()}`;
}

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
  private readonly rateLimit: RateLimitPolicy | false;
  private readonly maxPendingCalls: number;
  /** Per caller ({@link callerOf}), its rate limit, the most recently used last. */
  private readonly limiters = new Map<string, RateLimiter>();
  /** Per caller, its `Call`s waiting for their answer. */
  private readonly pendingCalls = new Map<string, number>();
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
    this.rateLimit = realtime.rateLimit;
    this.maxPendingCalls = realtime.rpc.maxPendingCalls;
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

  /** Where refusals of the callers' rate limits are counted. */
  get rateLimited(): { value: number } {
    return this.hub.metrics.framesDropped.cell('grpc', 'rate_limited');
  }

  /** A stream (Subscribe, WatchPresence, Session) on its way to open. */
  handshake(): ConnectionHandshake {
    return this.lifecycle.handshake('grpc');
  }

  /**
   * Whether one more stream of this principal may open on this node. Called just before
   * {@link open}, with nothing awaited between: the limits cannot be raced.
   *
   * @throws RealtimeError SERVER_FULL past `grpc.maxStreams` (UNAVAILABLE: try another
   *   node), TOO_MANY_CONNECTIONS past `grpc.maxStreamsPerUser` (RESOURCE_EXHAUSTED).
   */
  admit({ userId }: RealtimePrincipal, handshake: ConnectionHandshake): void {
    if (this.streams.size >= this.options.maxStreams) {
      handshake.refused('server_full');
      throw new RealtimeError(ErrorCode.ServerFull, 'the server holds grpc.maxStreams streams');
    }
    if (
      userId !== undefined &&
      this.lifecycle.countOf(userId, 'grpc') >= this.options.maxStreamsPerUser
    ) {
      handshake.refused('user_limit');
      throw new RealtimeError(
        ErrorCode.TooManyConnections,
        `the user holds grpc.maxStreamsPerUser (${this.options.maxStreamsPerUser}) streams`,
      );
    }
  }

  /**
   * Takes one request of `size` bytes from the caller's `rateLimit` (unary calls, and
   * each message of a PublishStream; a Session takes from its own, as a WebSocket does).
   *
   * @throws RealtimeError RATE_LIMITED when the caller sends faster than `rateLimit`.
   */
  takeRate(caller: string, size: number): void {
    if (!this.rateLimit) return;
    let limiter = this.limiters.get(caller);
    if (limiter) this.limiters.delete(caller);
    else limiter = new RateLimiter(this.rateLimit, this.rateLimited);
    this.limiters.set(caller, limiter);
    // A forgotten caller starts again with a full bucket: what this bound costs.
    if (this.limiters.size > MAX_RATE_LIMITED_CALLERS) {
      this.limiters.delete(this.limiters.keys().next().value!);
    }
    if (limiter.take(size) !== 'admit') {
      throw new RealtimeError(ErrorCode.RateLimited, 'too many requests');
    }
  }

  /**
   * Runs a caller's `Call`, with at most `rpc.maxPendingCalls` of them waiting at once.
   *
   * @throws RealtimeError TOO_MANY_REQUESTS past it.
   */
  async boundedCall<T>(caller: string, work: () => Promise<T>): Promise<T> {
    const pending = this.pendingCalls.get(caller) ?? 0;
    if (pending >= this.maxPendingCalls) {
      this.hub.metrics.framesDropped.inc('grpc', 'queue_full');
      throw new RealtimeError(
        ErrorCode.TooManyRequests,
        `rpc.maxPendingCalls (${this.maxPendingCalls}) calls are waiting already`,
      );
    }
    this.pendingCalls.set(caller, pending + 1);
    try {
      return await work();
    } finally {
      const left = this.pendingCalls.get(caller)! - 1;
      if (left === 0) this.pendingCalls.delete(caller);
      else this.pendingCalls.set(caller, left);
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
