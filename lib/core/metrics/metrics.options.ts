import {
  isPlainObject,
  path,
  positiveInteger,
  RealtimeConfigError,
  resolveGroup,
  type Rule,
} from '../../options-check.js';
import { MAX_SERIES } from './metric-families.js';

/**
 * What the library needs of a prom-client `Registry` (prom-client is an optional
 * peer: its types are not imported).
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * const registry: PrometheusRegistry = new Registry();
 * ```
 */
export interface PrometheusRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric(name: string): void;
  metrics(): Promise<string>;
  readonly contentType: string;
}

/**
 * What the library needs of an OpenTelemetry `Meter` (`@opentelemetry/api` is an
 * optional peer: its types are not imported).
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * const meter = metrics.getMeter('chat') as unknown as OtelMeter;
 * ```
 */
export interface OtelMeter {
  createObservableCounter(name: string, options?: object): OtelObservable;
  createObservableGauge(name: string, options?: object): OtelObservable;
  createHistogram(
    name: string,
    options?: object,
  ): {
    record(value: number, attributes?: Record<string, string>): void;
  };
}

/**
 * An OpenTelemetry observable instrument, as {@link OtelMeter} makes them.
 *
 * @example
 * ```ts
 * meter.createObservableGauge('x').addCallback((result) => result.observe(1));
 * ```
 */
export interface OtelObservable {
  addCallback(
    callback: (result: {
      observe(value: number, attributes?: Record<string, string>): void;
    }) => void,
  ): void;
  removeCallback(
    callback: (result: {
      observe(value: number, attributes?: Record<string, string>): void;
    }) => void,
  ): void;
}

/**
 * Metrics (docs/observability.md), off unless set: Prometheus through prom-client,
 * or OpenTelemetry through `@opentelemetry/api`, both optional peers.
 *
 * @example
 * ```ts
 * metrics: { type: 'prometheus', path: '/metrics', roomLabels: ['support:*'] }
 * metrics: { type: 'otel' } // the global MeterProvider's meter
 * ```
 */
export interface MetricsOptions {
  type: 'prometheus' | 'otel';
  /** prometheus: the registry the metrics join. Default: prom-client's global `register`. */
  registry?: PrometheusRegistry;
  /**
   * prometheus: serves the registry's text at this path, as a Nest controller (under
   * the app's global prefix; its global guards apply). Default: not served.
   */
  path?: string;
  /** otel: the meter. Default: `metrics.getMeter('nest-realtime')` of the global provider. */
  meter?: OtelMeter;
  /**
   * Room-name patterns (`*` any run) whose rooms get a `room` label of their own on
   * the room families: at most 20 patterns. Default none: no room name is ever a label.
   */
  roomLabels?: readonly string[];
  /**
   * Rooms labelled at most (up to 1000); later matching rooms share the series
   * `room="_other"`. Default 100.
   */
  maxRoomSeries?: number;
}

/**
 * The metrics options after defaults and checks.
 *
 * @example
 * ```ts
 * const metrics: ResolvedMetricsOptions | undefined = resolveMetricsOptions({ type: 'otel' });
 * ```
 */
export type ResolvedMetricsOptions = Readonly<
  Omit<MetricsOptions, 'roomLabels' | 'maxRoomSeries'> & {
    roomLabels: readonly string[];
    maxRoomSeries: number;
  }
>;

const MAX_ROOM_PATTERNS = 20;

const roomLabels: Rule = [
  (v) =>
    Array.isArray(v) &&
    v.length <= MAX_ROOM_PATTERNS &&
    v.every((pattern) => typeof pattern === 'string' && pattern.length > 0),
  `a list of at most ${MAX_ROOM_PATTERNS} room-name patterns`,
];

const RULES: Record<keyof MetricsOptions, Rule> = {
  type: [(v) => v === 'prometheus' || v === 'otel', "'prometheus' or 'otel'"],
  registry: [
    (v) => typeof (v as PrometheusRegistry | undefined)?.registerMetric === 'function',
    'a prom-client Registry',
  ],
  path,
  meter: [
    (v) => typeof (v as OtelMeter | undefined)?.createObservableCounter === 'function',
    'an OpenTelemetry Meter',
  ],
  roomLabels,
  maxRoomSeries: [
    (v) => positiveInteger[0](v) && (v as number) <= MAX_SERIES,
    `a positive integer, at most ${MAX_SERIES}`,
  ],
};

/** What belongs to one exporter only, and the type it belongs to. */
const ONLY_FOR: Partial<Record<keyof MetricsOptions, MetricsOptions['type']>> = {
  registry: 'prometheus',
  path: 'prometheus',
  meter: 'otel',
};

/**
 * The `metrics` options with defaults, checked; undefined when metrics are off.
 *
 * @throws RealtimeConfigError naming the first wrong option.
 * @example
 * ```ts
 * resolveMetricsOptions({ type: 'prometheus' })!.maxRoomSeries; // 100
 * ```
 */
export function resolveMetricsOptions(
  given: MetricsOptions | undefined,
): ResolvedMetricsOptions | undefined {
  if (given === undefined) return undefined;
  if (!isPlainObject(given as unknown))
    throw new RealtimeConfigError('metrics', 'an object', given);
  if (given.type === undefined) {
    throw new RealtimeConfigError('metrics.type', "'prometheus' or 'otel'", undefined);
  }
  // registry, path and meter have no default: they stay unset unless given.
  const defaults = { type: given.type, roomLabels: [], maxRoomSeries: 100 };
  const resolved = resolveGroup(
    'metrics',
    given,
    RULES,
    defaults as unknown as Required<MetricsOptions>,
  );
  for (const [key, type] of Object.entries(ONLY_FOR)) {
    const value = resolved[key as keyof MetricsOptions];
    if (value !== undefined && resolved.type !== type) {
      throw new RealtimeConfigError(`metrics.${key}`, `unset with type '${resolved.type}'`, value);
    }
  }
  return resolved;
}
