import { Injectable, Logger } from '@nestjs/common';
import {
  BUILTIN_EVENT_PREFIX,
  BuiltinEvent,
  encodeFrame,
  ErrorCode,
  errorFrame,
  INTERNAL_ERROR,
  parseInboundFrame,
  replyFrame,
  type InboundFrame,
} from '../../protocol/index.js';
import { toErrorBody } from '../error-body.js';
import type { RealtimeConnection } from '../realtime-connection.js';
import { RpcService } from '../rpc/rpc.service.js';
import { BuiltinEventRegistry, type RegisteredEvent } from './builtin-event-registry.js';
import { logFailure } from '../../engines/engine-unavailable.error.js';

/**
 * Runs a frame of an event that is not built in (a `@SubscribeMessage` handler of the
 * app's gateways): a promise that settles once the frame has taken effect (the
 * handler's first value, its end or its error), or undefined when no handler has
 * that event. One handler serves every connection of a transport: it is told which.
 */
export type ApplicationHandler<C extends RealtimeConnection = RealtimeConnection> = (
  connection: C,
  frame: InboundFrame,
) => Promise<void> | undefined;

/** What a read frame is: the client's answer to a server call, or a frame to run. */
export type ReadFrame =
  | { readonly kind: 'reply'; readonly frame: InboundFrame }
  | { readonly kind: 'immediate'; readonly frame: InboundFrame; readonly event: RegisteredEvent }
  | { readonly kind: 'ordered'; readonly frame: InboundFrame; readonly event?: RegisteredEvent };

/**
 * How a transport runs built-in events in its framework's pipeline (the WebSocket's
 * is Nest's, see RealtimeGateway): it calls `event.handler` in the end, and
 * resolves to its result or rejects with what refused it.
 */
export type BuiltinPipeline = (
  connection: RealtimeConnection,
  event: RegisteredEvent,
  frame: InboundFrame,
) => Promise<unknown>;

const logger = new Logger('RealtimeFrames');

/**
 * The one dispatcher of the frame protocol, for every transport that speaks it
 * (WebSocket, data channels, gRPC sessions): it parses a client's frame, answers a
 * bad one with the documented error, settles the client's replies to server calls,
 * and runs built-in events from the registry (application events through the
 * transport's {@link ApplicationHandler}), answering each frame with an `id` with a
 * reply or an error. The order frames take effect in is kept by {@link InboundFrames}.
 *
 * @example
 * ```ts
 * const read = dispatcher.read(connection, text);
 * if (read?.kind === 'ordered') await dispatcher.run(connection, read);
 * ```
 */
@Injectable()
export class FrameDispatcher {
  /** The pipelines built-in events run in, by transport; the others call the handler. */
  private readonly pipelines = new Map<string, BuiltinPipeline>();

  constructor(
    private readonly registry: BuiltinEventRegistry,
    private readonly rpc: RpcService,
  ) {}

  /** Runs the built-in events of `transport`'s connections through `pipeline`. */
  usePipeline(transport: string, pipeline: BuiltinPipeline): void {
    this.pipelines.set(transport, pipeline);
  }

  /**
   * Parses one text frame. A bad one is answered here (BAD_FRAME) and is undefined;
   * a reply to a server call is settled here.
   */
  read(connection: RealtimeConnection, text: string): ReadFrame | undefined {
    const parsed = parseInboundFrame(text);
    if ('rejected' in parsed) {
      const { id, event, code, message } = parsed.rejected;
      connection.send(encodeFrame(errorFrame(id, { code, message }, event)));
      return undefined;
    }
    const { frame } = parsed;
    if (frame.event === BuiltinEvent.Reply) {
      // The client's answer to a server call: settled, never answered.
      this.rpc.settle(connection, frame.id, frame.data, frame.error);
      return { kind: 'reply', frame };
    }
    const event = this.builtin(connection, frame);
    return event?.immediate
      ? { kind: 'immediate', frame, event }
      : { kind: 'ordered', frame, event };
  }

  /**
   * Runs a frame as {@link read} found it and sends its answer; settles once it has
   * taken effect. Never rejects: whatever fails is answered (and logged when it is
   * unexpected).
   */
  async run<C extends RealtimeConnection>(
    connection: C,
    { frame, event }: Extract<ReadFrame, { kind: 'ordered' }>,
    application?: ApplicationHandler<C>,
  ): Promise<void> {
    try {
      if (frame.event.startsWith(BUILTIN_EVENT_PREFIX)) {
        if (event) await this.runBuiltin(connection, event, frame);
        else this.unknown(connection, frame);
        return;
      }
      const running = application?.(connection, frame);
      if (running) await running;
      else this.unknown(connection, frame);
    } catch (error) {
      // Nothing a client sends may take the process down; this is the last net.
      logFailure(logger, 'frame handling failed', error);
      connection.send(encodeFrame(errorFrame(frame.id, INTERNAL_ERROR, frame.event)));
    }
  }

  /** Runs a built-in event and answers it (its reply with an `id`, or its error). */
  async runBuiltin(
    connection: RealtimeConnection,
    event: RegisteredEvent,
    frame: InboundFrame,
  ): Promise<void> {
    let reply: object | undefined;
    try {
      // rt:ack and rt:pong are the protocol's bookkeeping: no pipeline holds them up.
      const pipeline = event.immediate ? undefined : this.pipelines.get(connection.transport);
      const result = await (pipeline
        ? pipeline(connection, event, frame)
        : event.handler(connection, frame.data));
      if (frame.id !== undefined) reply = replyFrame(frame.id, result);
    } catch (error) {
      reply = errorFrame(frame.id, toErrorBody(error), frame.event);
    }
    if (reply) connection.send(encodeFrame(reply));
  }

  private builtin(
    connection: RealtimeConnection,
    frame: InboundFrame,
  ): RegisteredEvent | undefined {
    return frame.event.startsWith(BUILTIN_EVENT_PREFIX)
      ? this.registry.get(frame.event, connection.transport)
      : undefined;
  }

  private unknown(connection: RealtimeConnection, { event, id }: InboundFrame): void {
    const error = { code: ErrorCode.UnknownEvent, message: `unknown event "${event}"` };
    connection.send(encodeFrame(errorFrame(id, error, event)));
  }
}
