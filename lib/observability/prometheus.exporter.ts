import type { RealtimeMetrics } from '../core/metrics/realtime-metrics.js';
import type { AnyMetricFamily, HistogramFamily } from '../core/metrics/metric-families.js';
import type { PrometheusRegistry } from '../core/metrics/metrics.options.js';
import { RealtimeConfigError } from '../options-check.js';

/** One sample as prom-client writes it. */
interface PromValue {
  readonly labels: Record<string, string | number>;
  readonly value: number;
  readonly metricName?: string;
}

/** A metric as prom-client's Registry reads it: `get()` at every scrape. */
interface PromCollector {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly aggregator: 'sum';
  get(): Promise<{
    name: string;
    help: string;
    type: string;
    values: PromValue[];
    aggregator: 'sum';
  }>;
  reset(): void;
}

/**
 * The library's families in a prom-client registry: each is a collector the registry
 * reads when scraped (counters named with `_total`, as Prometheus names them).
 *
 * @example
 * ```ts
 * const exporter = new PrometheusExporter(metrics, new Registry());
 * exporter.register();
 * ```
 */
export class PrometheusExporter {
  private readonly names: string[] = [];

  constructor(
    private readonly metrics: RealtimeMetrics,
    readonly registry: PrometheusRegistry,
  ) {}

  /**
   * Registers every family.
   *
   * @throws RealtimeConfigError when the registry holds one of the names already (two
   *   apps in one process need a registry each).
   */
  register(): void {
    for (const family of this.metrics.families()) {
      const collector = collectorOf(family);
      try {
        this.registry.registerMetric(collector as never);
      } catch {
        this.unregister();
        throw new RealtimeConfigError(
          'metrics.registry',
          `a registry without ${collector.name} (two apps in one process need a registry each)`,
          'a registry that has it',
        );
      }
      this.names.push(collector.name);
    }
  }

  /** Takes the families out of the registry (at shutdown). */
  unregister(): void {
    for (const name of this.names.splice(0)) this.registry.removeSingleMetric(name);
  }
}

function collectorOf(family: AnyMetricFamily): PromCollector {
  const name = family.type === 'counter' ? `${family.name}_total` : family.name;
  const { help, type } = family;
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => {
      const values =
        family.type === 'histogram'
          ? histogramValues(family)
          : family.read().map(({ labels, value }) => ({ labels: { ...labels }, value }));
      return { name, help, type, values, aggregator: 'sum' as const };
    },
    reset: () => undefined, // the library's counts are never reset by a registry
  };
}

/** A histogram's series as the `_bucket` (with `le`), `_sum` and `_count` samples. */
function histogramValues(family: HistogramFamily): PromValue[] {
  const values: PromValue[] = [];
  for (const { labels, buckets, sum, count } of family.read()) {
    buckets.forEach((value, index) => {
      const le = index < family.bounds.length ? family.bounds[index]! : '+Inf';
      values.push({ labels: { ...labels, le }, value, metricName: `${family.name}_bucket` });
    });
    values.push({ labels: { ...labels }, value: sum, metricName: `${family.name}_sum` });
    values.push({ labels: { ...labels }, value: count, metricName: `${family.name}_count` });
  }
  return values;
}
