import { Logger } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import { take, type Observable, type Subscription } from 'rxjs';
import { WebSocket, type RawData } from 'ws';
import type { BuiltinHandler } from '../../core/builtin-events.js';
import type { RpcService } from '../../core/rpc/rpc.service.js';
import {
  encodeFrame,
  parseInboundFrame,
  type FrameId,
  type InboundFrame,
  CloseCode,
  ErrorCode,
  BUILTIN_EVENT_PREFIX,
  BuiltinEvent,
  closeReason,
  protocolOptionsOf,
  type ProtocolOptions,
  errorFrame,
  INTERNAL_ERROR,
  replyFrame,
  type ErrorBody,
} from '../../protocol/index.js';
import { RealtimeConnection, type RealtimePrincipal } from '../../core/realtime-connection.js';
import type { RateLimitOptions } from '../../core/limits/rate-limit.options.js';
import { requestContext, type RequestContext } from './request-context.js';
import type { TextFramer } from './text-framer.js';
import { TokenBucket } from './token-bucket.js';
import { toErrorBody } from '../../core/error-body.js';
import type { WriteCoalescer } from './write-coalescer.js';

/** A user's `@SubscribeMessage` handler, as Nest hands it to the adapter. */
export interface MessageHandler {
  readonly message: unknown;
  readonly callback: (data: unknown, event: string) => unknown;
}

/** Turns a handler's return value (value, promise, Observable) into an Observable. */
export type ResultTransform = (result: unknown) => Observable<unknown>;

/** What every connection of one server shares, kept once rather than per socket. */
export interface WsConnectionShared {
  readonly builtins: ReadonlyMap<string, BuiltinHandler>;
  readonly rpc: RpcService;
  readonly maxBufferedBytes: number;
  readonly maxPendingRequests: number;
  readonly closeTimeout: number;
  readonly rateLimit: Readonly<Required<RateLimitOptions>> | false;
  readonly coalescer: WriteCoalescer;
  readonly framer: TextFramer;
  closed(connection: WsConnection): void;
}

const TEXT = { binary: false } as const;
/** The heartbeat of clients that asked with `rt-ping=1`, encoded once for all. */
const PING_FRAME = encodeFrame({ event: BuiltinEvent.Ping });
/** The queue of every connection that does not batch: never written to. */
const NO_QUEUE: Buffer[] = [];
const logger = new Logger('RealtimeWebSocket');

/**
 * One WebSocket client. Handlers receive it as `@ConnectedSocket()`; it is also what
 * `handleConnection` and `handleDisconnect` get.
 *
 * @example
 * ```ts
 * @SubscribeMessage('hello')
 * hello(@ConnectedSocket() client: WsConnection) {
 *   client.emit('hello', { you: client.userId, from: client.request.headers['user-agent'] });
 * }
 * ```
 */
export class WsConnection extends RealtimeConnection {
  readonly transport = 'websocket';
  /** When the unanswered ping was sent (performance.now()), or 0. */
  private pingSentAt = 0;
  /**
   * Whether the client asked for `rt:ping` frames (`?rt-ping=1`) instead of
   * WebSocket pings, which browsers cannot see; any frame it sends answers them.
   */
  private readonly appPing: boolean;

  private readonly handlers = new Map<
    string,
    { handler: MessageHandler; transform: ResultTransform }
  >();
  private streams: Set<Subscription> | undefined;
  private readonly closeListeners: ((info: { code: number; reason: string }) => void)[] = [];
  private cutTimer: NodeJS.Timeout | undefined;
  /**
   * Frames read while `maxPendingRequests` were in flight. The socket is paused
   * then, so this holds at most what ws had already read from the network.
   */
  private backlog: { raw: RawData; isBinary: boolean }[] | undefined;
  private pending = 0;
  /** Handlers that have emitted and are still open (streams). */
  private streaming = 0;
  private paused = false;
  private corked = false;
  /**
   * Whether the client asked for batches (`?rt-batch=1`): then a tick's frames to
   * it are queued and go out as one `rt:batch` frame.
   */
  private readonly batching: boolean;
  private readonly queue: Buffer[];
  private queuedBytes = 0;
  /** This client's token buckets (frames, bytes), when rate limits are on. */
  private readonly messageBucket: TokenBucket | undefined;
  private readonly byteBucket: TokenBucket | undefined;
  /** Frames dropped in a row by the rate limit. */
  private refused = 0;
  /** Whether permessage-deflate was negotiated (then ws frames and compresses). */
  private readonly compressed: boolean;
  private draining = false;

  constructor(
    id: string,
    principal: RealtimePrincipal,
    /** The underlying `ws` socket. */
    readonly socket: WebSocket,
    /** The HTTP upgrade request (headers, url, remote address). */
    readonly request: IncomingMessage,
    private readonly shared: WsConnectionShared,
    /** The TCP socket under `socket`, which ws writes to. */
    private readonly tcp: Duplex,
    /** What the client asked of the protocol in its handshake URL. */
    protocol: ProtocolOptions = protocolOptionsOf(request),
  ) {
    super(id, principal);
    this.compressed = socket.extensions.includes('permessage-deflate');
    this.batching = !this.compressed && protocol.batch;
    this.appPing = protocol.ping;
    this.queue = this.batching ? [] : NO_QUEUE;
    const { rateLimit } = shared;
    if (rateLimit) {
      const now = performance.now();
      this.messageBucket = new TokenBucket(
        rateLimit.messagesPerSecond,
        rateLimit.messageBurst,
        now,
      );
      this.byteBucket = new TokenBucket(rateLimit.bytesPerSecond, rateLimit.byteBurst, now);
    }
    socket.on('message', (raw, isBinary) => {
      // Any frame answers an rt:ping, even one the rate limit drops or that is not valid.
      if (this.appPing) this.pingSentAt = 0;
      if (this.byteBucket && !this.admit(raw)) return;
      // At the bound, and behind frames already waiting, a frame waits its turn.
      if (this.pending >= this.shared.maxPendingRequests || this.backlog) {
        (this.backlog ??= []).push({ raw, isBinary });
        return;
      }
      this.receiveSafely(raw, isBinary);
    });
    socket.on('pong', () => {
      this.pingSentAt = 0;
    });
    // Protocol errors (bad UTF-8, oversized frames) are the client's; ws closes the socket.
    socket.on('error', (error) => logger.debug(`connection ${id}: ${error.message}`));
    socket.once('close', (code, reason) => this.onSocketClose(code, reason));
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** More than half of `websocket.maxBufferedBytes` waits to be written. */
  override get congested(): boolean {
    return this.socket.bufferedAmount + this.queuedBytes > this.shared.maxBufferedBytes / 2;
  }

  send(frame: Buffer): void {
    const { socket } = this;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount + this.queuedBytes > this.shared.maxBufferedBytes) {
      // The close frame waits behind what the client is not reading: cut it soon.
      this.close(CloseCode.SlowConsumer, 'slow consumer');
      return;
    }
    if (!this.corked) {
      this.corked = true;
      this.shared.coalescer.hold(this);
    }
    if (this.batching) {
      this.queue.push(frame);
      this.queuedBytes += frame.length;
    } else if (this.compressed) {
      socket.send(frame, TEXT); // deflated per socket, by ws
    } else {
      // Framed once per broadcast, written as is: nothing allocated per recipient.
      this.tcp.write(this.shared.framer.frame(frame));
    }
  }

  /** @internal Holds this tick's frames back (see WriteCoalescer). */
  cork(): void {
    this.tcp.cork();
  }

  /** @internal Lets this tick's frames go, in one write (and, if asked for, one frame). */
  uncork(): void {
    this.corked = false;
    this.writeQueue();
    this.tcp.uncork();
  }

  /** Writes the tick's queued frames: one as it is, several as one `rt:batch`. */
  private writeQueue(): void {
    const { queue } = this;
    if (queue.length === 0) return;
    if (this.socket.readyState === WebSocket.OPEN) {
      const { framer } = this.shared;
      this.tcp.write(queue.length === 1 ? framer.frame(queue[0]!) : framer.batch(queue));
    }
    queue.length = 0;
    this.queuedBytes = 0;
  }

  /**
   * Sends `{ event, data }` to this client alone. `emit('exception', ...)`, which is
   * how Nest's exception filter reports a `WsException`, becomes an error reply (or
   * an `rt:error` frame) instead.
   */
  emit(event: string, data?: unknown): void {
    if (event === 'exception') {
      this.reportException(data);
      return;
    }
    this.send(encodeFrame({ event, data }));
  }

  /** Closes with `code`; a client that does not answer within `closeTimeout` is cut. */
  close(code: number, reason: string): void {
    this.writeQueue(); // what was sent before the close goes before it
    const { socket } = this;
    socket.close(code, closeReason(reason));
    if (this.cutTimer === undefined && socket.readyState !== WebSocket.CLOSED) {
      this.cutTimer = setTimeout(() => socket.terminate(), this.shared.closeTimeout).unref();
    }
  }

  /** @internal Registers a gateway's handlers (Nest calls this once per gateway). */
  addHandlers(handlers: readonly MessageHandler[], transform: ResultTransform): void {
    for (const handler of handlers) {
      const event = String(handler.message);
      if (!this.handlers.has(event)) this.handlers.set(event, { handler, transform });
    }
  }

  /** @internal Runs `listener` once, when the connection has closed. */
  onClose(listener: (info: { code: number; reason: string }) => void): void {
    this.closeListeners.push(listener);
  }

  /**
   * @internal Sends a heartbeat ping (a WebSocket ping, or an `rt:ping` frame to a
   * client that asked for them) unless one is still unanswered. While the server is
   * not reading this socket (backpressure) an answer could not be read, so the
   * connection is not held to one; an `rt:ping` still goes, so that the client
   * sees the server is alive.
   */
  ping(now: number): void {
    if (!this.isOpen) return;
    if (this.paused) {
      this.pingSentAt = 0;
      if (this.appPing) this.send(PING_FRAME);
      return;
    }
    if (this.pingSentAt !== 0) return;
    this.pingSentAt = now;
    if (this.appPing) this.send(PING_FRAME);
    else this.socket.ping();
  }

  /** @internal Whether a ping sent at or before `sentAt` is still unanswered. */
  missedPing(sentAt: number): boolean {
    return !this.paused && this.pingSentAt !== 0 && this.pingSentAt <= sentAt;
  }

  /**
   * Takes the frame's tokens. A frame over the limit is dropped unread: the first
   * of a run is told RATE_LIMITED, and a run of `maxRefused` closes the connection.
   */
  private admit(raw: RawData): boolean {
    const now = performance.now();
    const size = Buffer.isBuffer(raw) ? raw.length : Buffer.byteLength(raw as ArrayBuffer);
    if (this.byteBucket!.take(size, now) && this.messageBucket!.take(1, now)) {
      this.refused = 0;
      return true;
    }
    const { maxRefused } = this.shared.rateLimit as { maxRefused: number };
    if (++this.refused >= maxRefused) {
      this.close(CloseCode.RateLimited, 'rate limit exceeded');
    } else if (this.refused === 1) {
      this.sendError(undefined, {
        code: ErrorCode.RateLimited,
        message: 'too many frames: slow down',
      });
    }
    return false;
  }

  private receiveSafely(raw: RawData, isBinary: boolean): void {
    try {
      this.receive(raw, isBinary);
    } catch (error) {
      // Nothing a client sends may take the process down; this is the last net.
      logger.error('frame handling failed', error instanceof Error ? error.stack : error);
      this.sendError(undefined, INTERNAL_ERROR);
    }
  }

  private receive(raw: RawData, isBinary: boolean): void {
    if (isBinary) {
      this.sendError(undefined, {
        code: ErrorCode.BadFrame,
        message: 'binary frames are not supported; send JSON text',
      });
      return;
    }
    const parsed = parseInboundFrame(raw.toString());
    if ('rejected' in parsed) {
      const { id, event, code, message } = parsed.rejected;
      this.sendError(id, { code, message }, event);
      return;
    }
    const { frame } = parsed;
    if (frame.event === BuiltinEvent.Reply) {
      // The client's answer to a server call: settled, never answered.
      this.shared.rpc.settle(this, frame.id, frame.data, frame.error);
      return;
    }
    if (frame.event.startsWith(BUILTIN_EVENT_PREFIX)) {
      const builtin = this.shared.builtins.get(frame.event);
      if (builtin) this.runBuiltin(builtin, frame);
      else this.rejectUnknown(frame);
      return;
    }
    const entry = this.handlers.get(frame.event);
    if (entry) this.runHandler(entry.handler, entry.transform, frame);
    else this.rejectUnknown(frame);
  }

  private rejectUnknown({ event, id }: InboundFrame): void {
    this.sendError(
      id,
      { code: ErrorCode.UnknownEvent, message: `unknown event "${event}"` },
      event,
    );
  }

  private runBuiltin(builtin: BuiltinHandler, frame: InboundFrame): void {
    this.begin();
    // async, so that a synchronous throw becomes a rejection like any other
    (async () => builtin(this, frame.data))()
      .then(
        (result) => {
          if (frame.id !== undefined) this.reply(frame.id, result);
        },
        (error: unknown) => this.sendError(frame.id, toErrorBody(error), frame.event),
      )
      .finally(() => this.end());
  }

  /**
   * Runs a user's handler. With an id, its first value (or null if it has none) is
   * the reply; without, each value is sent as a frame: a `{ event, data }` object as
   * it is, anything else as `{ event: <same event>, data: value }`.
   *
   * A handler holds one of `maxPendingRequests` slots until its first value (or
   * its end). One that goes on emitting is a stream; a connection may keep
   * `maxPendingRequests` streams open, and one more is ended with TOO_MANY_REQUESTS.
   */
  private runHandler(
    handler: MessageHandler,
    transform: ResultTransform,
    frame: InboundFrame,
  ): void {
    const context: RequestContext = {
      connection: this,
      event: frame.event,
      id: frame.id,
      answered: false,
    };
    let holding = true;
    const release = () => {
      if (!holding) return;
      holding = false;
      this.end();
    };
    this.begin();
    requestContext.run(context, () => {
      let source: Observable<unknown>;
      try {
        source = transform(handler.callback(frame.data, frame.event));
      } catch (error) {
        this.fail(context, error);
        release();
        return;
      }
      let emitted = false;
      let refused = false;
      const subscription = (frame.id === undefined ? source : source.pipe(take(1))).subscribe({
        next: (value) => {
          if (refused) return;
          if (!emitted) {
            emitted = true;
            release();
            if (++this.streaming > this.shared.maxPendingRequests) {
              refused = true;
              context.answered = true;
              const message = `at most ${this.shared.maxPendingRequests} streams per connection`;
              this.sendError(
                context.id,
                { code: ErrorCode.TooManyRequests, message },
                context.event,
              );
              return;
            }
          }
          this.answer(context, value);
        },
        error: (error: unknown) => this.fail(context, error),
        complete: () => {
          if (context.id !== undefined && !context.answered) this.answer(context, null);
        },
      });
      subscription.add(() => {
        this.streams?.delete(subscription);
        if (emitted) this.streaming--;
        release();
      });
      if (refused) subscription.unsubscribe();
      else if (!subscription.closed) (this.streams ??= new Set()).add(subscription);
    });
  }

  private answer(context: RequestContext, value: unknown): void {
    if (context.answered || (context.id === undefined && (value === undefined || value === null))) {
      return;
    }
    let frame: Buffer;
    try {
      frame = encodeFrame(
        context.id !== undefined
          ? replyFrame(context.id, value)
          : isWsResponse(value)
            ? value
            : { event: context.event, data: value },
      );
    } catch (error) {
      this.fail(context, error); // a result JSON cannot carry (a cycle, a BigInt)
      return;
    }
    if (context.id !== undefined) context.answered = true;
    this.send(frame);
  }

  private fail(context: RequestContext, error: unknown): void {
    logger.error(
      `handler for "${context.event}" failed`,
      error instanceof Error ? error.stack : error,
    );
    if (context.answered) return;
    context.answered = true;
    this.sendError(context.id, INTERNAL_ERROR, context.event);
  }

  private reportException(payload: unknown): void {
    const context = requestContext.getStore();
    const body = exceptionBody(payload);
    if (context?.connection !== this) {
      this.sendError(undefined, body);
      return;
    }
    if (context.answered) return;
    context.answered = true;
    this.sendError(context.id, body, context.event);
  }

  private reply(id: FrameId, data: unknown): void {
    this.send(encodeFrame(replyFrame(id, data)));
  }

  private sendError(id: FrameId | undefined, error: ErrorBody, event?: string): void {
    this.send(encodeFrame(errorFrame(id, error, event)));
  }

  /** One more frame in flight; at the bound, stop reading the socket. */
  private begin(): void {
    if (++this.pending >= this.shared.maxPendingRequests && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** One frame done: run waiting frames while there is room, then read again. */
  private end(): void {
    this.pending--;
    if (this.draining) return; // the loop below is already running further up the stack
    this.draining = true;
    while (this.backlog && this.pending < this.shared.maxPendingRequests) {
      const { raw, isBinary } = this.backlog.shift()!;
      if (this.backlog.length === 0) this.backlog = undefined;
      this.receiveSafely(raw, isBinary);
    }
    this.draining = false;
    if (this.paused && !this.backlog && this.pending < this.shared.maxPendingRequests) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private onSocketClose(code: number, reason: Buffer): void {
    // Frames still waiting, either way, are dropped: their other end is gone.
    this.backlog = undefined;
    this.queue.length = 0;
    try {
      for (const subscription of this.streams ?? []) {
        try {
          subscription.unsubscribe();
        } catch (error) {
          logger.error('a handler teardown failed', error instanceof Error ? error.stack : error);
        }
      }
      const info = { code, reason: reason.toString() };
      for (const listener of this.closeListeners.splice(0)) {
        try {
          listener(info);
        } catch (error) {
          logger.error('disconnect handler failed', error instanceof Error ? error.stack : error);
        }
      }
    } finally {
      clearTimeout(this.cutTimer);
      this.shared.closed(this);
    }
  }
}

/** Whether a handler returned Nest's `WsResponse` (`{ event, data }`): sent as that event. */
function isWsResponse(value: unknown): value is { event: string; data?: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { event?: unknown }).event === 'string'
  );
}

/**
 * Maps what Nest's exception filter emits to an error body: `{ status, message,
 * cause }` for `new WsException('text')`, the object itself for
 * `new WsException({ code, message, ... })`.
 */
function exceptionBody(payload: unknown): ErrorBody {
  if (typeof payload !== 'object' || payload === null) {
    return { code: ErrorCode.HandlerError, message: String(payload) };
  }
  const {
    code,
    message,
    status: _status,
    cause: _cause,
    ...rest
  } = payload as Record<string, unknown>;
  const text = typeof message === 'string' ? message : 'error';
  const body: ErrorBody = {
    code:
      typeof code === 'string' && code.length > 0
        ? code
        : text === INTERNAL_ERROR.message
          ? ErrorCode.InternalError
          : ErrorCode.HandlerError,
    message: text,
  };
  if (Object.keys(rest).length > 0) body.details = rest;
  return body;
}
