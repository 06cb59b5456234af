import type { RealtimeConnection } from '../realtime-connection.js';
import type { ApplicationHandler, FrameDispatcher, ReadFrame } from './frame-dispatcher.js';

/** A frame read and waiting its turn, as the dispatcher found it. */
type OrderedFrame = Extract<ReadFrame, { kind: 'ordered' }>;

/**
 * How the frames of a transport's connections wait their turn: one object for all
 * the connections of a server, each callback told which connection it is for.
 *
 * @example
 * ```ts
 * const options: InboundFramesOptions<WsConnection> = {
 *   bound: 32,
 *   pause: (connection) => connection.socket.pause(),
 *   resume: (connection) => connection.socket.resume(),
 * };
 * ```
 */
export interface InboundFramesOptions<C extends RealtimeConnection = RealtimeConnection> {
  /** Frames read and not done (the one running and those waiting their turn), at most. */
  readonly bound: number;
  /** Stops reading the client (TCP backpressure) once `bound` frames are read and not done. */
  readonly pause?: (connection: C) => void;
  /** Reads the client again once fewer are. */
  readonly resume?: (connection: C) => void;
  /** For a transport that cannot stop reading: `bound` frames are not done, and one more comes. */
  readonly overflow?: (connection: C) => void;
  /** Runs the app's handlers (WebSocket gateways); other transports have none. */
  readonly application?: ApplicationHandler<C>;
}

/**
 * One connection's frames, taking effect in the order they were sent: each frame
 * runs once the one before it has taken effect (a built-in event's work is done; an
 * application handler has answered, ended or failed), so its reply comes in that
 * order too. A client may pipeline `rt:join` and `rt:publish` to that room without
 * waiting. Replies to server calls and the frames that change nothing others depend
 * on (`rt:ack`, `rt:pong`) are run as soon as they are read. docs/protocol.md, "Flow
 * control", is the contract.
 *
 * @example
 * ```ts
 * const options = { bound: 100, overflow: (c: RealtimeConnection) => c.close(4002, 'too many') };
 * const inbound = new InboundFrames(connection, dispatcher, options); // options: one for all
 * channel.onMessage.subscribe((text) => inbound.receive(text));
 * ```
 */
export class InboundFrames<C extends RealtimeConnection = RealtimeConnection> {
  /** Frames waiting their turn, once one has had to. */
  private waiting: OrderedFrame[] | undefined;
  private running = false;
  private paused = false;
  private closed = false;

  constructor(
    private readonly connection: C,
    private readonly dispatcher: FrameDispatcher,
    private readonly options: InboundFramesOptions<C>,
  ) {}

  /** Whether reading is paused because `bound` frames are not done. */
  get isPaused(): boolean {
    return this.paused;
  }

  /** One text frame as the client sent it. */
  receive(text: string): void {
    if (this.closed) return;
    const read = this.dispatcher.read(this.connection, text);
    if (!read || read.kind === 'reply') return;
    if (read.kind === 'immediate') {
      void this.dispatcher.runBuiltin(this.connection, read.event, read.frame);
      return;
    }
    if (!this.running) {
      this.start(read);
    } else if (this.options.overflow && this.inFlight >= this.options.bound) {
      // Only a transport that cannot pause gets here.
      this.options.overflow(this.connection);
      return;
    } else {
      (this.waiting ??= []).push(read);
    }
    if (this.options.pause && !this.paused && this.inFlight >= this.options.bound) {
      this.paused = true;
      this.options.pause(this.connection);
    }
  }

  /** The connection closed: the frames still waiting are dropped (their other end is gone). */
  clear(): void {
    this.closed = true;
    this.waiting = undefined;
  }

  private start(frame: OrderedFrame): void {
    this.running = true;
    void this.dispatcher
      .run(this.connection, frame, this.options.application)
      .then(() => this.next());
  }

  private next(): void {
    if (this.closed) return;
    this.running = false;
    const frame = this.waiting?.shift();
    if (frame) this.start(frame);
    if (this.paused && this.inFlight < this.options.bound) {
      this.paused = false;
      this.options.resume?.(this.connection);
    }
  }

  /** Frames read and not done: the one running and those waiting their turn. */
  private get inFlight(): number {
    return (this.waiting?.length ?? 0) + (this.running ? 1 : 0);
  }
}
