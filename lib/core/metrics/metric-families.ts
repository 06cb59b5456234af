/**
 * One labelled series of a family, as an exporter reads it.
 *
 * @example
 * ```ts
 * const sample: MetricSample = { labels: { transport: 'websocket' }, value: 3 };
 * ```
 */
export interface MetricSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/**
 * A histogram series: its buckets' cumulative counts (one per bound in
 * {@link HistogramFamily.bounds}, then +Inf), its sum and its count.
 *
 * @example
 * ```ts
 * const series: HistogramSample = { labels: {}, buckets: [1, 3, 3], sum: 0.004, count: 3 };
 * ```
 */
export interface HistogramSample {
  readonly labels: Readonly<Record<string, string>>;
  /** Cumulative: `buckets[i]` counts the values <= `bounds[i]`; the last is the count. */
  readonly buckets: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/**
 * Label values past a family's series cap are counted under this value.
 *
 * @example
 * ```ts
 * sum(rate(realtime_room_publishes_total{room="_other"}[5m])) // PromQL: the rooms past the cap
 * ```
 */
export const OVERFLOW_LABEL = '_other';

/**
 * A family's series at most, unless it says otherwise: labels are bounded by design,
 * and what comes past it is counted under {@link OVERFLOW_LABEL}.
 *
 * @example
 * ```ts
 * MAX_SERIES; // 1000
 * ```
 */
export const MAX_SERIES = 1000;

/**
 * What every family has: a name (without `_total`), a help line and label names.
 *
 * @example
 * ```ts
 * for (const family of metrics.families()) console.log(family.name, family.help);
 * ```
 */
export abstract class MetricFamily {
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** The samples `fill` adds, those of the same label values summed into one. */
  protected sum(
    fill: (add: (values: readonly string[], value: number) => void) => void,
  ): MetricSample[] {
    const series = new Map<string, { values: readonly string[]; value: number }>();
    fill((values, value) => {
      const key = values.join('\u0000');
      const found = series.get(key);
      if (found) found.value += value;
      else series.set(key, { values, value });
    });
    return [...series.values()].map(({ values, value }) => ({
      labels: this.labelsOf(values),
      value,
    }));
  }

  /** The label record of one series, from its values in `labelNames` order. */
  protected labelsOf(values: readonly string[]): Record<string, string> {
    const labels: Record<string, string> = {};
    this.labelNames.forEach((name, index) => (labels[name] = values[index] ?? ''));
    return labels;
  }
}

/**
 * Series kept by their label values, at most `maxSeries` of them: once full, new
 * label values share one series whose values are all {@link OVERFLOW_LABEL}.
 */
class SeriesTable<T> {
  private readonly series = new Map<string, { values: readonly string[]; cell: T }>();
  /** The one series past the cap, made when first needed. */
  private overflow: { values: readonly string[]; cell: T } | undefined;

  constructor(
    private readonly make: () => T,
    private readonly labelCount: number,
    private readonly maxSeries: number,
  ) {}

  cell(values: readonly string[]): T {
    const key = values.length === 1 ? values[0]! : values.join('\u0000');
    const found = this.series.get(key);
    if (found) return found.cell;
    if (this.series.size >= this.maxSeries) {
      this.overflow ??= {
        values: Array.from({ length: this.labelCount }, () => OVERFLOW_LABEL),
        cell: this.make(),
      };
      return this.overflow.cell;
    }
    const cell = this.make();
    this.series.set(key, { values: [...values], cell });
    return cell;
  }

  *entries(): IterableIterator<{ values: readonly string[]; cell: T }> {
    yield* this.series.values();
    if (this.overflow) yield this.overflow;
  }
}

/**
 * A counter that only goes up, kept per label values. A hot path keeps the `cell`
 * of its labels and adds to `cell.value` itself: no lookup per event. `pull`, when
 * given, adds what is counted elsewhere (on live connections, say) at read time.
 *
 * @example
 * ```ts
 * const opened = new CounterFamily('realtime_connections_opened', 'Connections accepted.', ['transport']);
 * opened.inc('websocket');
 * const cell = opened.cell('sse'); cell.value += 1;
 * ```
 */
export class CounterFamily extends MetricFamily {
  readonly type = 'counter';
  private readonly table: SeriesTable<{ value: number }>;

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    private readonly pull?: (add: (values: readonly string[], value: number) => void) => void,
    maxSeries = MAX_SERIES,
  ) {
    super(name, help, labelNames);
    this.table = new SeriesTable(() => ({ value: 0 }), labelNames.length, maxSeries);
  }

  /** The series of these label values (made at first use), to add to directly. */
  cell(...values: string[]): { value: number } {
    return this.table.cell(values);
  }

  inc(...values: string[]): void {
    this.table.cell(values).value++;
  }

  add(value: number, ...values: string[]): void {
    this.table.cell(values).value += value;
  }

  /** Every series now, with what `pull` adds. */
  read(): MetricSample[] {
    return this.sum((add) => {
      for (const { values, cell } of this.table.entries()) add(values, cell.value);
      this.pull?.(add);
    });
  }
}

/**
 * A value read when the metrics are: `read` adds each series' value.
 *
 * @example
 * ```ts
 * new GaugeFamily('realtime_engine_available', 'Whether the engine serves (1) or not (0).', [], (set) => set([], hub.engineAvailable ? 1 : 0));
 * ```
 */
export class GaugeFamily extends MetricFamily {
  readonly type = 'gauge';

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly source: (add: (values: readonly string[], value: number) => void) => void,
  ) {
    super(name, help, labelNames);
  }

  read(): MetricSample[] {
    return this.sum(this.source);
  }
}

/**
 * Seconds from 0.5 ms to 10 s: what a realtime hop or a call takes; the bounds of the
 * library's histograms.
 *
 * @example
 * ```ts
 * new HistogramFamily('app_step_seconds', 'A step.', [], SECONDS_BUCKETS).observe(0.004);
 * ```
 */
export const SECONDS_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

interface HistogramCell {
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * Observed values in fixed buckets. `onObserve` lets an exporter that records its own
 * histograms (OpenTelemetry) see each value as it comes.
 *
 * @example
 * ```ts
 * const duration = new HistogramFamily('realtime_rpc_duration_seconds', 'RPC call time.', ['outcome']);
 * duration.observe(0.003, 'ok');
 * ```
 */
export class HistogramFamily extends MetricFamily {
  readonly type = 'histogram';
  private readonly table: SeriesTable<HistogramCell>;
  private readonly listeners: ((value: number, labels: Record<string, string>) => void)[] = [];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    readonly bounds: readonly number[] = SECONDS_BUCKETS,
  ) {
    super(name, help, labelNames);
    this.table = new SeriesTable(
      () => ({ counts: Array.from({ length: bounds.length + 1 }, () => 0), sum: 0, count: 0 }),
      labelNames.length,
      MAX_SERIES,
    );
  }

  observe(value: number, ...values: string[]): void {
    const cell = this.table.cell(values);
    let index = 0;
    while (index < this.bounds.length && value > this.bounds[index]!) index++;
    cell.counts[index]!++;
    cell.sum += value;
    cell.count++;
    if (this.listeners.length > 0) {
      const labels = this.labelsOf(values);
      for (const listener of this.listeners) listener(value, labels);
    }
  }

  /** Calls `listener` with every value observed from now on. */
  onObserve(listener: (value: number, labels: Record<string, string>) => void): void {
    this.listeners.push(listener);
  }

  read(): HistogramSample[] {
    return [...this.table.entries()].map(({ values, cell }) => {
      let running = 0;
      const buckets = cell.counts.map((count) => (running += count));
      return { labels: this.labelsOf(values), buckets, sum: cell.sum, count: cell.count };
    });
  }
}

/**
 * Any of the three families.
 *
 * @example
 * ```ts
 * const families: AnyMetricFamily[] = metrics.families();
 * ```
 */
export type AnyMetricFamily = CounterFamily | GaugeFamily | HistogramFamily;
