import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import { Controller, Inject } from '@nestjs/common';
import { GrpcStreamCall } from '@nestjs/microservices';
import { BuiltinEventRegistry } from '../../core/events/builtin-event-registry.js';
import { toErrorBody } from '../../core/error-body.js';
import { RateLimiter } from '../../core/limits/rate-limiter.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import { BuiltinEvent, CloseCode, ErrorCode, RealtimeError } from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import type { StreamConnection } from '../stream-connection.js';
import {
  MAX_WAITING,
  REALTIME_SERVICE,
  requestSize,
  type SessionRequest,
} from './grpc-messages.js';
import { callSink, type CallSink } from './grpc-sink.js';
import { RealtimeGrpcStreams } from './grpc-streams.service.js';
import { closeStatus, grpcError, toGrpcError, type GrpcError } from './grpc-errors.js';
import { authenticateCall, parseJson } from './grpc-support.js';

/**
 * The bidirectional call of realtime.v1.Realtime (docs/grpc.md): Session, a full
 * session over one stream, its requests the WebSocket built-in events (join, leave,
 * publish, ack) answered in order, the events of its rooms sent back.
 */
@Controller()
export class RealtimeGrpcSessionController {
  constructor(
    private readonly registry: BuiltinEventRegistry,
    private readonly streams: RealtimeGrpcStreams,
    @Inject(REALTIME_OPTIONS) private readonly realtime: ResolvedRealtimeOptions,
  ) {}

  @GrpcStreamCall(REALTIME_SERVICE, 'Session')
  async session(call: ServerDuplexStream<SessionRequest, unknown>): Promise<void> {
    // Listened to from the start: a cancel (or a deadline) during authenticate counts.
    let gone = false;
    call.once('cancelled', () => (gone = true));
    let principal: RealtimePrincipal;
    const handshake = this.streams.handshake();
    try {
      principal = await authenticateCall(
        this.realtime.authenticate,
        call.metadata,
        'Session',
        handshake.refused,
      );
    } catch (error) {
      handshake.end(); // a refusal ended it; a hook that failed ends it here
      endCall(call, toGrpcError(error));
      return;
    }
    if (gone || call.cancelled) return handshake.end();
    if (this.streams.isClosing) {
      handshake.refused('unavailable');
      endCall(call, grpcError(status.UNAVAILABLE, 'the server is shutting down'));
      return;
    }
    try {
      this.streams.admit(principal, handshake);
    } catch (error) {
      endCall(call, toGrpcError(error));
      return;
    }
    const sink = callSink(
      call,
      (event) => ({ event }),
      (code, reason) => endCall(call, closeStatus(code, reason)),
    );
    const connection = this.streams.connection(principal, [], sink, true);
    this.streams.open(connection);
    handshake.opened(connection);
    const done = (): void => this.streams.finish(connection);
    call.once('cancelled', done);
    call.once('error', done);
    call.once('finish', done);
    const limiter = RateLimiter.of(this.realtime.rateLimit, this.streams.rateLimited);
    // Requests are handled one after the other, in order; at most MAX_WAITING wait.
    let queue = Promise.resolve();
    let waiting = 0;
    call.on('data', (request: SessionRequest) => {
      if (++waiting > MAX_WAITING) {
        connection.close(CloseCode.SlowConsumer, `more than ${MAX_WAITING} requests waiting`);
        return;
      }
      const verdict = limiter?.take(requestSize(request)) ?? 'admit';
      if (verdict === 'close') {
        connection.close(CloseCode.RateLimited, 'rate limit exceeded');
        return;
      }
      const admitted = verdict === 'admit';
      queue = queue.then(async () => {
        await this.handleSession(connection, sink, request, admitted);
        waiting--;
      });
    });
    call.on('end', () => {
      // The client ended its side: the session ends once its requests are answered,
      // with OK (ended first, so that the connection's close is no status of its own).
      void queue.then(() => {
        endCall(call, undefined);
        this.streams.finish(connection);
      });
    });
  }

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
      const result = await this.registry
        .get(event, connection.transport)!
        .handler(connection, data);
      reply = { id, data: JSON.stringify(result ?? null), code: '', message: '' };
    } catch (error) {
      const { code, message } = toErrorBody(error); // anything unexpected is logged there
      reply = { id, data: '', code, message };
    }
    if (!connection.isOpen) return;
    sink.send({ reply }, id.length + reply.data.length + reply.message.length + 64);
    if (sink.buffered > this.streams.maxBufferedBytes) {
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
}

/** Ends a raw call: with the status, or OK. */
function endCall(call: ServerDuplexStream<unknown, unknown>, error: GrpcError | undefined): void {
  if (call.writableEnded || call.destroyed) return;
  if (error) call.emit('error', error);
  else call.end();
}
