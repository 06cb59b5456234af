import type { RealtimeMetrics } from '../core/metrics/realtime-metrics.js';
import type { MetricSample } from '../core/metrics/metric-families.js';
import type { OtelMeter, OtelObservable } from '../core/metrics/metrics.options.js';

type ObservableResult = Parameters<Parameters<OtelObservable['addCallback']>[0]>[0];

/** The unit of a family, read off its name as OpenTelemetry's semantic conventions name them. */
function unitOf(name: string): string | undefined {
  if (name.endsWith('_seconds')) return 's';
  if (name.includes('bytes')) return 'By';
  return undefined;
}

/**
 * The library's families on an OpenTelemetry meter: counters and gauges as
 * observable instruments read at each collection, histograms recorded as values come
 * (with the same bucket bounds as advice).
 *
 * @example
 * ```ts
 * new OtelExporter(metrics, metrics.getMeter('chat')).register();
 * ```
 */
export class OtelExporter {
  private readonly observed: {
    instrument: OtelObservable;
    callback: (result: ObservableResult) => void;
  }[] = [];
  private stopped = false;

  constructor(
    private readonly metrics: RealtimeMetrics,
    private readonly meter: OtelMeter,
  ) {}

  register(): void {
    for (const family of this.metrics.families()) {
      const unit = unitOf(family.name);
      const description = family.help;
      if (family.type === 'histogram') {
        const histogram = this.meter.createHistogram(family.name, {
          description,
          unit,
          advice: { explicitBucketBoundaries: [...family.bounds] },
        });
        family.onObserve((value, labels) => {
          if (!this.stopped) histogram.record(value, labels);
        });
        continue;
      }
      const instrument =
        family.type === 'counter'
          ? this.meter.createObservableCounter(family.name, { description, unit })
          : this.meter.createObservableGauge(family.name, { description, unit });
      const callback = (result: ObservableResult) => {
        for (const { labels, value } of family.read() as MetricSample[]) {
          result.observe(value, { ...labels });
        }
      };
      instrument.addCallback(callback);
      this.observed.push({ instrument, callback });
    }
  }

  /** Stops reporting (at shutdown). */
  unregister(): void {
    this.stopped = true;
    for (const { instrument, callback } of this.observed.splice(0)) {
      instrument.removeCallback(callback);
    }
  }
}
