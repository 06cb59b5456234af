import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { RealtimeMetrics } from '../core/metrics/realtime-metrics.js';
import type { OtelMeter, PrometheusRegistry } from '../core/metrics/metrics.options.js';
import { RealtimeConfigError } from '../options-check.js';
import { REALTIME_OPTIONS } from '../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../realtime.options.js';
import { OtelExporter } from './otel.exporter.js';
import { PrometheusExporter } from './prometheus.exporter.js';

/**
 * Hands the library's metrics to the exporter `metrics` names, once every service
 * has registered its own (at bootstrap), and takes them back at shutdown. prom-client
 * and `@opentelemetry/api` are loaded only then.
 *
 * @example
 * ```ts
 * const { contentType, text } = await moduleRef.get(RealtimeMetricsExport).scrape();
 * ```
 */
@Injectable()
export class RealtimeMetricsExport implements OnApplicationBootstrap, OnApplicationShutdown {
  private prometheus: PrometheusExporter | undefined;
  private otel: OtelExporter | undefined;

  constructor(
    private readonly metrics: RealtimeMetrics,
    @Inject(REALTIME_OPTIONS) private readonly options: ResolvedRealtimeOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { metrics } = this.options;
    if (!metrics) return;
    if (metrics.type === 'prometheus') {
      const registry =
        metrics.registry ??
        (await load<{ register: PrometheusRegistry }>('prom-client', 'prometheus')).register;
      this.prometheus = new PrometheusExporter(this.metrics, registry);
      this.prometheus.register();
      return;
    }
    const api = metrics.meter
      ? undefined
      : await load<{ metrics: { getMeter(name: string): OtelMeter } }>(
          '@opentelemetry/api',
          'otel',
        );
    const meter = metrics.meter ?? api!.metrics.getMeter('nest-realtime');
    this.otel = new OtelExporter(this.metrics, meter);
    this.otel.register();
  }

  onApplicationShutdown(): void {
    this.prometheus?.unregister();
    this.otel?.unregister();
  }

  /**
   * The registry's text, for `GET metrics.path`.
   *
   * @throws Error before bootstrap, or when metrics are not Prometheus's.
   */
  async scrape(): Promise<{ contentType: string; text: string }> {
    if (!this.prometheus) throw new Error('Prometheus metrics are not registered');
    const { registry } = this.prometheus;
    return { contentType: registry.contentType, text: await registry.metrics() };
  }
}

/** An optional peer, or a start-up error that says to install it. */
async function load<T>(name: string, type: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch {
    throw new RealtimeConfigError(
      'metrics.type',
      `'${type}' with ${name} installed (npm install ${name})`,
      type,
    );
  }
}
