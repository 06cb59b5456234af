import { Logger } from '@nestjs/common';
import type { RTCDataChannel } from 'werift';
import type { BuiltinHandler } from '../../core/builtin-events.js';
import {
  encodeFrame,
  parseInboundFrame,
  type InboundFrame,
  CloseCode,
  ErrorCode,
  errorFrame,
  replyFrame,
  BUILTIN_EVENT_PREFIX,
  BuiltinEvent,
} from '../../protocol/index.js';
import { RealtimeConnection, type RealtimePrincipal } from '../../core/realtime-connection.js';
import type { RealtimeHub } from '../../core/realtime-hub.js';
import { toErrorBody } from '../../core/error-body.js';
import type { RpcService } from '../../core/rpc/rpc.service.js';
import type { RateLimitOptions } from '../../core/limits/rate-limit.options.js';
import { TokenBucket } from '../websocket/token-bucket.js';

/** What every data channel connection of a node shares. */
export interface DataChannelShared {
  readonly hub: RealtimeHub;
  readonly rpc: RpcService;
  readonly builtins: ReadonlyMap<string, BuiltinHandler>;
  readonly rateLimit: Readonly<Required<RateLimitOptions>> | false;
  /** Past this many bytes waiting in a channel, the client reads too slowly: closed. */
  readonly maxBufferedBytes: number;
}

/** Requests of one channel waiting for their answer, at most. */
const MAX_WAITING = 100;
/** Each frame's text, decoded once however many channels it goes to (the hub hands them the same buffer). */
const texts = new WeakMap<Buffer, string>();
const logger = new Logger('RealtimeWebRtc');

/**
 * A data channel a client opened to the server's peer, as a connection of the core:
 * the frame protocol's built-in events (join, leave, publish, presence, acks, RPC
 * replies) in text messages, and room messages, replies and errors out. Whether it is
 * reliable is the client's choice when it opens the channel (`ordered`,
 * `maxRetransmits`); volatile messages are dropped for a channel that is behind.
 *
 * @example
 * ```ts
 * // in the browser, once the server's peer answers:
 * const channel = pc.createDataChannel('rt', { ordered: false, maxRetransmits: 0 });
 * channel.onmessage = (e) => console.log(JSON.parse(e.data)); // rt:connected first
 * channel.send(JSON.stringify({ event: 'rt:join', data: { room: 'game' }, id: 1 }));
 * ```
 */
export class DataChannelConnection extends RealtimeConnection {
  readonly transport = 'webrtc';
  private closed = false;
  private waiting = 0;
  private queue = Promise.resolve();
  private readonly bucket: TokenBucket | undefined;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    id: string,
    principal: RealtimePrincipal,
    private readonly channel: RTCDataChannel,
    private readonly shared: DataChannelShared,
  ) {
    super(id, principal);
    const limit = shared.rateLimit;
    this.bucket = limit
      ? new TokenBucket(limit.messagesPerSecond, limit.messageBurst, performance.now())
      : undefined;
    channel.onMessage.subscribe((message) => this.receive(message));
    channel.stateChanged.subscribe((state) => {
      if (state === 'closed') this.close(CloseCode.GoingAway, 'the channel closed');
    });
  }

  get isOpen(): boolean {
    return !this.closed && this.channel.readyState === 'open';
  }

  override get congested(): boolean {
    return this.channel.bufferedAmount > this.shared.maxBufferedBytes / 2;
  }

  /** Called once the hub knows the connection: the client learns its id. */
  start(): void {
    this.send(
      encodeFrame({
        event: BuiltinEvent.Connected,
        data: { connectionId: this.id, userId: this.userId ?? null, transport: this.transport },
      }),
    );
  }

  send(frame: Buffer): void {
    if (!this.isOpen) return;
    let text = texts.get(frame);
    if (text === undefined) texts.set(frame, (text = frame.toString('utf8')));
    this.channel.send(text);
    if (this.channel.bufferedAmount > this.shared.maxBufferedBytes) {
      this.close(CloseCode.SlowConsumer, 'the client reads too slowly');
    }
  }

  /** Runs `listener` once the connection closes. */
  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const listener of this.closeListeners.splice(0)) listener();
    logger.debug(`data channel ${this.id} closed (${code}: ${reason})`);
    if (this.channel.readyState === 'open' || this.channel.readyState === 'connecting') {
      this.channel.close();
    }
    this.shared.hub.removeConnection(this).catch((error: unknown) => {
      logger.error('removing a data channel connection failed', String(error));
    });
  }

  private receive(message: string | Buffer): void {
    if (!this.isOpen) return;
    if (typeof message !== 'string') {
      this.send(encodeFrame(errorFrame(undefined, BINARY_REFUSED)));
      return;
    }
    if (this.bucket && !this.bucket.take(1, performance.now())) {
      this.send(encodeFrame(errorFrame(undefined, RATE_LIMITED)));
      return;
    }
    const parsed = parseInboundFrame(message);
    if ('rejected' in parsed) {
      const { id, event, code, message: text } = parsed.rejected;
      this.send(encodeFrame(errorFrame(id, { code, message: text }, event)));
      return;
    }
    const { frame } = parsed;
    if (frame.event === BuiltinEvent.Reply) {
      this.shared.rpc.settle(this, frame.id, frame.data, frame.error);
      return;
    }
    const builtin = frame.event.startsWith(BUILTIN_EVENT_PREFIX)
      ? this.shared.builtins.get(frame.event)
      : undefined;
    if (!builtin) {
      const error = { code: ErrorCode.UnknownEvent, message: `unknown event "${frame.event}"` };
      this.send(encodeFrame(errorFrame(frame.id, error, frame.event)));
      return;
    }
    if (++this.waiting > MAX_WAITING) {
      this.close(CloseCode.SlowConsumer, `more than ${MAX_WAITING} requests waiting`);
      return;
    }
    // One after the other, in order, as over a WebSocket.
    this.queue = this.queue.then(() => this.run(builtin, frame));
  }

  private async run(builtin: BuiltinHandler, frame: InboundFrame): Promise<void> {
    try {
      const result = await builtin(this, frame.data);
      if (frame.id !== undefined) this.send(encodeFrame(replyFrame(frame.id, result)));
    } catch (error) {
      this.send(encodeFrame(errorFrame(frame.id, toErrorBody(error), frame.event)));
    } finally {
      this.waiting--;
    }
  }
}

const BINARY_REFUSED = {
  code: ErrorCode.BadFrame,
  message: 'frames are JSON text; binary messages are not read',
};
const RATE_LIMITED = { code: ErrorCode.RateLimited, message: 'too many messages' };
