import { Logger } from '@nestjs/common';
import type { FrameDispatcher } from '../../core/events/frame-dispatcher.js';
import type { ConnectionLifecycle } from '../../core/lifecycle/connection-lifecycle.js';
import { InboundFrames, type InboundFramesOptions } from '../../core/events/inbound-frames.js';
import {
  RateLimiter,
  type RateLimitPolicy,
  type RateLimitState,
} from '../../core/limits/rate-limiter.js';
import { RealtimeConnection, type RealtimePrincipal } from '../../core/realtime-connection.js';
import type { RealtimeHub } from '../../core/realtime-hub.js';
import {
  BuiltinEvent,
  CloseCode,
  encodeFrame,
  ErrorCode,
  errorFrame,
  type OutboundFrame,
} from '../../protocol/index.js';
import type { ServerDataChannel } from './server-data-channel.js';

/** What every data channel connection of a node shares. */
export interface DataChannelShared {
  readonly hub: RealtimeHub;
  readonly lifecycle: ConnectionLifecycle;
  readonly dispatcher: FrameDispatcher;
  readonly rateLimit: RateLimitPolicy | false;
  /** Past this many bytes waiting in a channel, the client reads too slowly: closed. */
  readonly maxBufferedBytes: number;
}

/** Requests of one channel waiting for their answer, at most. */
const MAX_WAITING = 100;
/** A data channel cannot be paused: a client that piles up requests is cut. */
const INBOUND: InboundFramesOptions = {
  bound: MAX_WAITING,
  overflow: (connection) =>
    connection.close(CloseCode.SlowConsumer, `more than ${MAX_WAITING} requests waiting`),
};
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
  /** The client's frames, taking effect in the order sent. */
  private readonly inbound: InboundFrames;
  private readonly limiter: RateLimiter | undefined;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    id: string,
    principal: RealtimePrincipal,
    private readonly channel: ServerDataChannel,
    private readonly shared: DataChannelShared,
  ) {
    super(id, principal);
    const refusals = shared.hub.metrics.framesDropped.cell(this.transport, 'rate_limited');
    this.limiter = RateLimiter.of(shared.rateLimit, refusals);
    this.inbound = new InboundFrames<RealtimeConnection>(this, shared.dispatcher, INBOUND);
    channel.onMessage.subscribe((message) => this.receive(message));
    channel.stateChanged.subscribe((state) => {
      if (state === 'closed') this.close(CloseCode.GoingAway, 'the channel closed');
    });
  }

  get isOpen(): boolean {
    return !this.closed && this.channel.readyState === 'open';
  }

  override get buffered(): number {
    return this.channel.bufferedAmount;
  }

  override get rateLimit(): RateLimitState | undefined {
    return this.limiter?.state();
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

  send(frame: OutboundFrame): void {
    if (!this.isOpen) return;
    this.channel.send(frame.text); // decoded once, however many channels it goes to
    this.countSent(frame.bytes.length);
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
    this.endedWith(code);
    this.inbound.clear();
    for (const listener of this.closeListeners.splice(0)) listener();
    logger.debug(`data channel ${this.id} closed (${code}: ${reason})`);
    if (this.channel.readyState === 'open' || this.channel.readyState === 'connecting') {
      this.channel.close();
    }
    this.shared.lifecycle.detach(this);
  }

  private receive(message: string | Buffer): void {
    if (!this.isOpen) return;
    const size = typeof message === 'string' ? Buffer.byteLength(message) : message.length;
    const verdict = this.limiter?.take(size) ?? 'admit';
    if (verdict === 'close') {
      this.close(CloseCode.RateLimited, 'rate limit exceeded');
      return;
    }
    if (verdict !== 'admit') {
      if (verdict === 'refuse-and-tell')
        this.send(encodeFrame(errorFrame(undefined, RATE_LIMITED)));
      return;
    }
    if (typeof message !== 'string') {
      this.send(encodeFrame(errorFrame(undefined, BINARY_REFUSED)));
      return;
    }
    this.inbound.receive(message);
  }
}

const BINARY_REFUSED = {
  code: ErrorCode.BadFrame,
  message: 'frames are JSON text; binary messages are not read',
};
const RATE_LIMITED = { code: ErrorCode.RateLimited, message: 'too many messages' };
