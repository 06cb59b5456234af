import { Injectable, type OnModuleInit } from '@nestjs/common';

/**
 * What the library uses of `@opentelemetry/api` (an optional peer: its types are not
 * imported, so that an app without it still type-checks our declarations).
 */
interface OtelApi {
  readonly trace: {
    getTracer(name: string): OtelTracer;
    setSpan(context: unknown, span: OtelSpan): unknown;
    setSpanContext(context: unknown, spanContext: OtelSpanContext): unknown;
  };
  readonly context: {
    active(): unknown;
    with<T>(context: unknown, run: () => T): T;
  };
}

interface OtelTracer {
  startSpan(
    name: string,
    options: { kind: number; attributes?: SpanAttributes; links?: { context: OtelSpanContext }[] },
    context?: unknown,
  ): OtelSpan;
}

interface OtelSpanContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly isRemote?: boolean;
}

interface OtelSpan {
  spanContext(): OtelSpanContext;
  isRecording(): boolean;
  setAttribute(key: string, value: string | number | boolean): void;
  setStatus(status: { code: number; message?: string }): void;
  recordException(exception: Error | string): void;
  end(): void;
}

/**
 * A span's attributes: values are strings, numbers or booleans.
 *
 * @example
 * ```ts
 * const attributes: SpanAttributes = { 'messaging.destination.name': 'lobby' };
 * ```
 */
export type SpanAttributes = Record<string, string | number | boolean>;

/**
 * OpenTelemetry's SpanKind values (the API's enum, without importing it).
 *
 * @example
 * ```ts
 * tracing.start('realtime.publish', SpanKind.Producer, {});
 * ```
 */
export const SpanKind = { Internal: 0, Server: 1, Client: 2, Producer: 3, Consumer: 4 } as const;
const STATUS_ERROR = 2;

/**
 * A span the library started: ended once, with an error when the work failed.
 *
 * @example
 * ```ts
 * const span = tracing.start('realtime.join', SpanKind.Internal, { room });
 * span?.set('realtime.recovered', true);
 * span?.end();
 * ```
 */
export class RealtimeSpan {
  private ended = false;

  constructor(
    private readonly span: OtelSpan,
    /** The span's context, as the code the span covers runs in. */
    readonly context: unknown,
    private readonly api: OtelApi,
  ) {}

  /** The W3C `traceparent` of this span, for another node to go on from. */
  get traceparent(): string {
    const { traceId, spanId, traceFlags } = this.span.spanContext();
    return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
  }

  set(key: string, value: string | number | boolean): void {
    this.span.setAttribute(key, value);
  }

  /** Runs `work` with this span as the active one (spans the work starts are its children). */
  run<T>(work: () => T): T {
    return this.api.context.with(this.context, work);
  }

  /** Ends the span (once: a later call does nothing). */
  end(error?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) {
      const message = error instanceof Error ? error.message : String(error);
      this.span.recordException(error instanceof Error ? error : message);
      this.span.setStatus({ code: STATUS_ERROR, message });
    }
    this.span.end();
  }
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * Traces of the library's own work, through `@opentelemetry/api` when the app has it
 * (loaded at start-up; without it, nothing happens at all): a span per publish, whose
 * context travels with the message through the engine, a child span for its delivery
 * on every node, spans for joins that replay, RPC calls and handshakes. With the API
 * but no tracer provider registered, spans do not record and no context is carried.
 *
 * @example
 * ```ts
 * const span = tracing.start('realtime.publish', SpanKind.Producer, { 'messaging.destination.name': room });
 * try { await work(); span?.end(); } catch (error) { span?.end(error); throw error; }
 * ```
 */
@Injectable()
export class RealtimeTracing implements OnModuleInit {
  private api: OtelApi | undefined;
  private tracer: OtelTracer | undefined;

  async onModuleInit(): Promise<void> {
    try {
      this.api = (await import('@opentelemetry/api' as string)) as OtelApi;
    } catch {
      return; // not installed: no traces
    }
    // A proxy: it follows whichever provider the app registers, before or after this.
    this.tracer = this.api.trace.getTracer('nest-realtime');
  }

  /**
   * Starts a span, a child of the active one (or of `parent`, a `traceparent` from
   * another node); undefined when nothing would record it.
   */
  start(
    name: string,
    kind: number,
    attributes: SpanAttributes,
    parent?: string,
  ): RealtimeSpan | undefined {
    const { api, tracer } = this;
    if (!api || !tracer) return undefined;
    let context = api.context.active();
    if (parent !== undefined) {
      const remote = parseTraceparent(parent);
      if (remote) context = api.trace.setSpanContext(context, remote);
    }
    const span = tracer.startSpan(name, { kind, attributes }, context);
    if (!span.isRecording()) {
      span.end();
      return undefined;
    }
    return new RealtimeSpan(span, api.trace.setSpan(context, span), api);
  }

  /** Runs `work` inside a span (when one records), ending it with the outcome. */
  async around<T>(
    name: string,
    kind: number,
    attributes: SpanAttributes,
    work: (span: RealtimeSpan | undefined) => Promise<T>,
  ): Promise<T> {
    const span = this.start(name, kind, attributes);
    if (!span) return work(undefined);
    try {
      const result = await span.run(() => work(span));
      span.end();
      return result;
    } catch (error) {
      span.end(error);
      throw error;
    }
  }
}

/** A W3C `traceparent` read back as a remote span context; undefined when it is not one. */
function parseTraceparent(traceparent: string): OtelSpanContext | undefined {
  const match = TRACEPARENT.exec(traceparent);
  if (!match) return undefined;
  return {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: parseInt(match[3]!, 16),
    isRemote: true,
  };
}
