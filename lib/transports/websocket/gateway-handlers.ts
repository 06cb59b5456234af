import { Logger } from '@nestjs/common';
import { isObservable, take, type Observable, type Subscription } from 'rxjs';
import {
  encodeFrame,
  ErrorCode,
  errorFrame,
  INTERNAL_ERROR,
  replyFrame,
  type ErrorBody,
  type FrameId,
  type InboundFrame,
  type OutboundFrame,
} from '../../protocol/index.js';
import type { RealtimeConnection } from '../../core/realtime-connection.js';
import { exceptionBody } from './exception-body.js';
import { requestContext, type RequestContext } from './request-context.js';

/** A user's `@SubscribeMessage` handler, as Nest hands it to the adapter. */
export interface MessageHandler {
  readonly message: unknown;
  readonly callback: (data: unknown, event: string) => unknown;
}

/** Turns a handler's return value (value, promise, Observable) into an Observable. */
export type ResultTransform = (result: unknown) => Observable<unknown>;

/** One gateway's handlers for one connection, and how their results become Observables. */
export interface GatewayBinding {
  readonly handlers: readonly MessageHandler[];
  readonly transform: ResultTransform;
}

const logger = new Logger('RealtimeWebSocket');

/**
 * The app's `@SubscribeMessage` handlers of one WebSocket connection, and the
 * streams they keep open. A handler's frame has taken effect at its first value (or
 * its end, or its error), or, for a handler that returns an Observable, once that is
 * subscribed: that is when the connection's next frame runs. With an
 * id, that first value (or null if it has none) is the reply; without, each value
 * is sent as a frame: a `{ event, data }` object as it is, anything else as
 * `{ event: <same event>, data: value }`. A handler that goes on emitting is a
 * stream; a connection keeps `maxStreams` open, and one more is ended with
 * TOO_MANY_REQUESTS.
 *
 * @example
 * ```ts
 * const handlers = new GatewayHandlers(connection, 32);
 * handlers.add(nestHandlers, transform);
 * await handlers.run(frame); // undefined when no handler has frame.event
 * ```
 */
export class GatewayHandlers {
  /**
   * Each gateway's handlers as Nest handed them over, in order (the first of an
   * event wins): kept as they are, looked up by event when a frame comes, rather
   * than copied into a map for every connection.
   */
  private firstHandlers: readonly MessageHandler[] = [];
  private firstTransform: ResultTransform | undefined;
  /** The handlers of gateways after the first (most apps have one). */
  private more: GatewayBinding[] | undefined;
  private streams: Set<Subscription> | undefined;
  /** Handlers that have emitted and are still open (streams). */
  private streaming = 0;

  constructor(
    private readonly connection: RealtimeConnection,
    private readonly maxStreams: number,
  ) {}

  /** Registers a gateway's handlers (Nest calls this once per gateway); the first of an event wins. */
  add(handlers: readonly MessageHandler[], transform: ResultTransform): void {
    if (this.firstTransform === undefined) {
      this.firstHandlers = handlers;
      this.firstTransform = transform;
    } else (this.more ??= []).push({ handlers, transform });
  }

  /** Runs the handler of the frame's event: settles once it took effect; undefined if there is none. */
  run(frame: InboundFrame): Promise<void> | undefined {
    const { firstTransform } = this;
    if (firstTransform === undefined) return undefined;
    const run = (handlers: readonly MessageHandler[], transform: ResultTransform) => {
      const handler = handlers.find((h) => String(h.message) === frame.event);
      return (
        handler && new Promise<void>((settled) => this.start(handler, transform, frame, settled))
      );
    };
    let started = run(this.firstHandlers, firstTransform);
    for (const { handlers, transform } of this.more ?? []) started ??= run(handlers, transform);
    return started;
  }

  /** The connection closed: every stream of its handlers ends (their teardowns run). */
  close(): void {
    for (const subscription of this.streams ?? []) {
      try {
        subscription.unsubscribe();
      } catch (error) {
        logger.error('a handler teardown failed', error instanceof Error ? error.stack : error);
      }
    }
    this.streams = undefined;
  }

  /**
   * Reports what Nest's exception filter emitted (`client.emit('exception', ...)`):
   * as the error reply of the frame being handled, or as an `rt:error` frame.
   */
  reportException(payload: unknown): void {
    const context = requestContext.getStore();
    const body = exceptionBody(payload);
    if (context?.connection !== this.connection) {
      this.sendError(undefined, body);
      return;
    }
    if (context.answered) return;
    context.answered = true;
    this.sendError(context.id, body, context.event);
  }

  private start(
    handler: MessageHandler,
    transform: ResultTransform,
    frame: InboundFrame,
    settled: () => void,
  ): void {
    const context: RequestContext = {
      connection: this.connection,
      event: frame.event,
      id: frame.id,
      answered: false,
    };
    requestContext.run(context, () => {
      let source: Observable<unknown>;
      try {
        const result = handler.callback(frame.data, frame.event);
        // A handler that returns an Observable has taken effect once it is subscribed:
        // a stream must not hold the connection's next frames until it first emits.
        Promise.resolve(result).then(
          (value) => isObservable(value) && settled(),
          () => undefined, // the subscription below reports it
        );
        source = transform(result);
      } catch (error) {
        this.fail(context, error);
        settled();
        return;
      }
      let emitted = false;
      let refused = false;
      const subscription = (frame.id === undefined ? source : source.pipe(take(1))).subscribe({
        next: (value) => {
          if (refused) return;
          if (!emitted) {
            emitted = true;
            settled();
            if (++this.streaming > this.maxStreams) {
              refused = true;
              context.answered = true;
              const message = `at most ${this.maxStreams} streams per connection`;
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
        settled();
      });
      if (refused) subscription.unsubscribe();
      else if (!subscription.closed) (this.streams ??= new Set()).add(subscription);
    });
  }

  private answer(context: RequestContext, value: unknown): void {
    if (context.answered || (context.id === undefined && (value === undefined || value === null))) {
      return;
    }
    let frame: OutboundFrame;
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
    this.connection.send(frame);
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

  private sendError(id: FrameId | undefined, error: ErrorBody, event?: string): void {
    this.connection.send(encodeFrame(errorFrame(id, error, event)));
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
