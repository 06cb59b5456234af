import { Logger } from '@nestjs/common';
import type { Duplex } from 'node:stream';
import { WebSocket, type RawData } from 'ws';
import { InboundFrames, type InboundFramesOptions } from '../../core/events/inbound-frames.js';
import type { FrameDispatcher } from '../../core/events/frame-dispatcher.js';
import type { RateLimitPolicy, RateLimitState } from '../../core/limits/rate-limiter.js';
import { RateLimiter } from '../../core/limits/rate-limiter.js';
import { RealtimeConnection, type RealtimePrincipal } from '../../core/realtime-connection.js';
import {
  BuiltinEvent,
  closeReason,
  CloseCode,
  encodeFrame,
  ErrorCode,
  errorFrame,
  protocolOptionsOf,
  type ErrorBody,
  type OutboundFrame,
  type ProtocolOptions,
} from '../../protocol/index.js';
import { GatewayHandlers, type MessageHandler, type ResultTransform } from './gateway-handlers.js';
import type { TextFramer } from './text-framer.js';
import type { UpgradeRequest } from './upgrade-request.js';
import type { WriteCoalescer } from '../write-coalescer.js';

export type { MessageHandler, ResultTransform } from './gateway-handlers.js';

/** What every connection of one server shares, kept once rather than per socket. */
export interface WsConnectionShared {
  readonly dispatcher: FrameDispatcher;
  readonly maxBufferedBytes: number;
  readonly maxPendingRequests: number;
  readonly closeTimeout: number;
  readonly rateLimit: RateLimitPolicy | false;
  /** Where the connections' rate-limit refusals are counted. */
  readonly rateLimited: { value: number };
  /** How every connection's frames wait their turn (see {@link WsConnection.inboundOptions}). */
  readonly inbound: InboundFramesOptions<WsConnection>;
  readonly coalescer: WriteCoalescer;
  readonly framer: TextFramer;
  closed(connection: WsConnection): void;
}

type CloseListener = (info: { code: number; reason: string }) => void;

const TEXT = { binary: false } as const;
/** The heartbeat of clients that asked with `rt-ping=1`, encoded once for all. */
const PING_FRAME = encodeFrame({ event: BuiltinEvent.Ping });
const logger = new Logger('RealtimeWebSocket');

/**
 * @internal The `ws` socket of every connection (the server's `WebSocket` class): it
 * knows its connection, so that one set of listener functions serves all sockets.
 */
export class ConnectionSocket extends WebSocket {
  /** Set when the connection is made; refused handshakes have none. */
  connection: WsConnection | undefined;
}

/** The connection of a socket that has one (ws calls a listener with its socket as `this`). */
function connectionOf(socket: WebSocket): WsConnection {
  return (socket as ConnectionSocket).connection!;
}

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
  /** The underlying `ws` socket. */
  readonly socket: WebSocket;
  /** When the unanswered ping was sent (performance.now()), or 0. */
  private pingSentAt = 0;
  /**
   * Whether the client asked for `rt:ping` frames (`?rt-ping=1`) instead of
   * WebSocket pings, which browsers cannot see; any frame it sends answers them.
   */
  private readonly appPing: boolean;

  /** The app's `@SubscribeMessage` handlers, and the streams they keep open: once a gateway binds. */
  private gateways: GatewayHandlers | undefined;
  /** The client's frames, taking effect in the order sent. */
  private readonly inbound: InboundFrames<WsConnection>;
  /**
   * Who is told of the close (gateways' handleDisconnect): once one asks; the one
   * listener of an app with one gateway as itself, an array only for several.
   */
  private closeListeners: CloseListener | CloseListener[] | undefined;
  private cutTimer: NodeJS.Timeout | undefined;
  /** Whether the coalescer holds this connection until the end of the tick. */
  private held = false;
  /**
   * Whether the client asked for batches (`?rt-batch=1`): then a tick's frames to
   * it go out as one `rt:batch` frame rather than one frame each.
   */
  private readonly batching: boolean;
  /** The payloads sent this tick, written at its end (made at the first one). */
  private queue: Buffer[] | undefined;
  private queuedBytes = 0;
  /** This client's rate limit, when rate limits are on. */
  private readonly limiter: RateLimiter | undefined;
  /** Whether permessage-deflate was negotiated (then ws frames and compresses). */
  private readonly compressed: boolean;

  constructor(
    id: string,
    principal: RealtimePrincipal,
    socket: WebSocket,
    /** What is kept of the HTTP upgrade request: its url, headers and socket. */
    readonly request: UpgradeRequest,
    private readonly shared: WsConnectionShared,
    /** The TCP socket under `socket`, which ws writes to. */
    private readonly tcp: Duplex,
    /** What the client asked of the protocol in its handshake URL. */
    protocol: ProtocolOptions = protocolOptionsOf(request),
  ) {
    super(id, principal);
    this.socket = socket;
    this.compressed = socket.extensions.includes('permessage-deflate');
    this.batching = !this.compressed && protocol.batch;
    this.appPing = protocol.ping;
    this.limiter = RateLimiter.of(shared.rateLimit, shared.rateLimited);
    this.inbound = new InboundFrames<WsConnection>(this, shared.dispatcher, shared.inbound);
    // One set of listeners for every socket (`this` is the socket): no closures per connection.
    (socket as ConnectionSocket).connection = this;
    socket.on('message', WsConnection.onMessage);
    socket.on('pong', WsConnection.onPong);
    socket.on('error', WsConnection.onError);
    socket.on('close', WsConnection.onClose); // ws emits 'close' once: no once() wrapper to keep
  }

  private static onMessage(this: WebSocket, raw: RawData, isBinary: boolean): void {
    const connection = connectionOf(this);
    // Any frame answers an rt:ping, even one the rate limit drops or that is not valid.
    if (connection.appPing) connection.pingSentAt = 0;
    if (connection.limiter && !connection.admit(raw)) return;
    if (isBinary) {
      connection.sendError({
        code: ErrorCode.BadFrame,
        message: 'binary frames are not supported; send JSON text',
      });
      return;
    }
    connection.inbound.receive(raw.toString());
  }

  private static onPong(this: WebSocket): void {
    connectionOf(this).pingSentAt = 0;
  }

  /** Protocol errors (bad UTF-8, oversized frames) are the client's; ws closes the socket. */
  private static onError(this: WebSocket, error: Error): void {
    logger.debug(`connection ${connectionOf(this).id}: ${error.message}`);
  }

  private static onClose(this: WebSocket, code: number, reason: Buffer): void {
    connectionOf(this).onSocketClose(code, reason);
  }

  /**
   * @internal The inbound options of every connection of one server: reading pauses
   * and resumes on the connection's socket, and the app's frames go to its gateways.
   */
  static inboundOptions(maxPendingRequests: number): InboundFramesOptions<WsConnection> {
    return {
      bound: maxPendingRequests,
      pause: (connection) => connection.socket.pause(),
      resume: (connection) => connection.socket.resume(),
      application: (connection, frame) => connection.gateways?.run(frame),
    };
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** More than half of `websocket.maxBufferedBytes` waits to be written. */
  override get congested(): boolean {
    return this.buffered > this.shared.maxBufferedBytes / 2;
  }

  override get buffered(): number {
    return this.socket.bufferedAmount + this.queuedBytes;
  }

  override get rateLimit(): RateLimitState | undefined {
    return this.limiter?.state();
  }

  send({ bytes }: OutboundFrame): void {
    const { socket } = this;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount + this.queuedBytes > this.shared.maxBufferedBytes) {
      // The close frame waits behind what the client is not reading: cut it soon.
      this.close(CloseCode.SlowConsumer, 'slow consumer');
      return;
    }
    if (!this.held) {
      this.held = true;
      this.shared.coalescer.hold(this);
    }
    if (this.compressed) {
      socket.send(bytes, TEXT); // deflated per socket, by ws, while the TCP socket is corked
      this.countSent(bytes.length);
      return;
    }
    (this.queue ??= []).push(bytes);
    this.queuedBytes += bytes.length;
  }

  /** @internal Holds this tick's frames back (see WriteCoalescer). */
  cork(): void {
    // Only ws's own writes need holding: the queue is written once, at the end of the tick.
    if (this.compressed) this.tcp.cork();
  }

  /** @internal Lets this tick's frames go, in one write. */
  uncork(): void {
    this.held = false;
    if (this.compressed) this.tcp.uncork();
    else this.writeQueue();
  }

  /**
   * Writes the tick's payloads in one write: as plain frames, framed once for every
   * member of a room that got the same ones (see TextFramer), or as one `rt:batch`.
   */
  private writeQueue(): void {
    const { queue } = this;
    if (queue === undefined || queue.length === 0) return;
    if (this.socket.readyState === WebSocket.OPEN) {
      const { framer } = this.shared;
      this.tcp.write(this.batching ? framer.batch(queue) : framer.frames(queue));
      // Counted once a tick, as written: no work per frame for the metrics.
      this.framesSent += queue.length;
      this.bytesSent += this.queuedBytes;
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
      this.handlers().reportException(data);
      return;
    }
    this.send(encodeFrame({ event, data }));
  }

  /** Closes with `code`; a client that does not answer within `closeTimeout` is cut. */
  close(code: number, reason: string): void {
    this.writeQueue(); // what was sent before the close goes before it
    this.endedWith(code);
    const { socket } = this;
    socket.close(code, closeReason(reason));
    if (this.cutTimer === undefined && socket.readyState !== WebSocket.CLOSED) {
      this.cutTimer = setTimeout(() => socket.terminate(), this.shared.closeTimeout).unref();
    }
  }

  /** @internal Registers a gateway's handlers (Nest calls this once per gateway). */
  addHandlers(handlers: readonly MessageHandler[], transform: ResultTransform): void {
    this.handlers().add(handlers, transform);
  }

  /** @internal Runs `listener` once, when the connection has closed. */
  onClose(listener: CloseListener): void {
    const { closeListeners } = this;
    if (closeListeners === undefined) this.closeListeners = listener;
    else if (typeof closeListeners === 'function') this.closeListeners = [closeListeners, listener];
    else closeListeners.push(listener);
  }

  private handlers(): GatewayHandlers {
    return (this.gateways ??= new GatewayHandlers(this, this.shared.maxPendingRequests));
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
    if (this.inbound.isPaused) {
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
    return !this.inbound.isPaused && this.pingSentAt !== 0 && this.pingSentAt <= sentAt;
  }

  /**
   * Takes the frame's tokens. A frame over the limit is dropped unread: the first
   * of a run is told RATE_LIMITED, and a run of `maxRefused` closes the connection.
   */
  private admit(raw: RawData): boolean {
    const size = Buffer.isBuffer(raw) ? raw.length : Buffer.byteLength(raw as ArrayBuffer);
    const verdict = this.limiter!.take(size);
    if (verdict === 'close') this.close(CloseCode.RateLimited, 'rate limit exceeded');
    else if (verdict === 'refuse-and-tell') {
      this.sendError({ code: ErrorCode.RateLimited, message: 'too many frames: slow down' });
    }
    return verdict === 'admit';
  }

  private sendError(error: ErrorBody): void {
    this.send(encodeFrame(errorFrame(undefined, error)));
  }

  private onSocketClose(code: number, reason: Buffer): void {
    this.endedWith(code);
    // Frames still waiting, either way, are dropped: their other end is gone.
    this.inbound.clear();
    this.queue = undefined;
    try {
      this.gateways?.close();
      const info = { code, reason: reason.toString() };
      const { closeListeners } = this;
      const listeners =
        typeof closeListeners === 'function' ? [closeListeners] : (closeListeners ?? []);
      this.closeListeners = undefined;
      for (const listener of listeners) {
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
