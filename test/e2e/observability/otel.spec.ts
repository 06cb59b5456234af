// The metrics on OpenTelemetry: a real MeterProvider of @opentelemetry/sdk-metrics,
// read on demand (`collect()`, no timers), given as `metrics.meter` or set as the
// global provider.
import { metrics } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';
import { SECONDS_BUCKETS } from '../../../lib/core/metrics/metric-families.js';
import { RpcService, type RealtimeModuleOptions } from '../../../lib/index.js';
import { join, until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { eventIs } from '../../support/ws-client.js';

/** A reader that collects only when asked: what an exporter would be handed. */
class OnDemandReader extends MetricReader {
  /** Every metric of the collection, by name (the instruments of every meter). */
  async metrics(): Promise<Map<string, MetricData>> {
    const { resourceMetrics, errors } = await this.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'the collection failed');
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    }
    return byName;
  }

  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/**
 * Readers of one provider: `cumulative` (the SDK's default) for the values, and `delta`,
 * whose collection holds only what the observable callbacks reported in it (and what
 * the histograms recorded since the last): who still reports.
 */
function provider(): {
  meterProvider: MeterProvider;
  cumulative: OnDemandReader;
  delta: OnDemandReader;
} {
  const cumulative = new OnDemandReader();
  const delta = new OnDemandReader({
    aggregationTemporalitySelector: () => AggregationTemporality.DELTA,
  });
  return { meterProvider: new MeterProvider({ readers: [cumulative, delta] }), cumulative, delta };
}

/** The data points of `name`, as attributes and value (a histogram's value is its point). */
function points(collected: Map<string, MetricData>, name: string) {
  return (collected.get(name)?.dataPoints ?? []).map(({ attributes, value }) => ({
    attributes,
    value,
  }));
}

const options = (meter?: unknown): RealtimeModuleOptions => ({
  authenticate: userFromQuery,
  presence: false,
  metrics: meter ? { type: 'otel', meter: meter as never } : { type: 'otel' },
});

describe('metrics on OpenTelemetry', () => {
  const harness = withHarness();

  it('reports the families on the meter given, and stops reporting when the app closes', async () => {
    const { meterProvider, cumulative, delta } = provider();
    harness.defer(() => meterProvider.shutdown());
    const meter = meterProvider.getMeter('chat');
    const app = await harness.start(options(meter));
    app.app
      .get(RpcService)
      .register('sum', (params) => (params as number[]).reduce((a, b) => a + b, 0));

    const alice = await harness.connect(`${app.wsUrl}?user=alice`);
    await join(alice, 'lobby');
    for (let i = 0; i < 2; i++) {
      const reply = await alice.request('rt:publish', { room: 'lobby', event: 'chat', data: i });
      expect(reply.error).toBeUndefined();
    }
    expect((await alice.request('rt:call', { method: 'sum', params: [1, 2] })).data).toBe(3);

    const seen = await cumulative.metrics();
    const publishes = seen.get('realtime_publishes')!;
    expect(publishes.dataPointType).toBe(DataPointType.SUM);
    expect(publishes.descriptor.description).toContain('Messages published, by origin');
    expect(points(seen, 'realtime_publishes')).toEqual([
      { attributes: { origin: 'websocket' }, value: 2 },
    ]);
    const connections = seen.get('realtime_connections')!;
    expect(connections.dataPointType).toBe(DataPointType.GAUGE);
    expect(points(seen, 'realtime_connections')).toEqual([
      { attributes: { transport: 'websocket' }, value: 1 },
    ]);
    expect(points(seen, 'realtime_room_joins')).toEqual([
      { attributes: { transport: 'websocket' }, value: 1 },
    ]);
    const rpc = seen.get('realtime_rpc_duration_seconds')!;
    expect(rpc.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(rpc.descriptor.unit).toBe('s');
    expect(rpc.dataPoints).toHaveLength(1);
    const [call] = rpc.dataPoints;
    expect(call!.attributes).toEqual({ direction: 'client_to_server' });
    expect(call!.value).toMatchObject({
      count: 1,
      buckets: { boundaries: [...SECONDS_BUCKETS] },
    });

    // The delta reader sees every observable instrument report while the app runs...
    const live = await delta.metrics();
    expect(points(live, 'realtime_connections')).toEqual([
      { attributes: { transport: 'websocket' }, value: 1 },
    ]);
    expect(points(live, 'realtime_engine_available')).toEqual([{ attributes: {}, value: 1 }]);

    await alice.close();
    harness.forget(app);
    await app.close();
    // ... and none once it closed: its callbacks were removed from the meter.
    const after = await delta.metrics();
    expect([...after.values()].filter((metric) => metric.dataPoints.length > 0)).toEqual([]);

    // A second app on the same meter reports its own counts alone.
    const second = await harness.start(options(meter));
    const bob = await harness.connect(`${second.wsUrl}?user=bob`);
    await join(bob, 'lobby');
    await bob.request('rt:publish', { room: 'lobby', event: 'chat', data: 'again' });
    const now = await delta.metrics();
    expect(points(now, 'realtime_connections')).toEqual([
      { attributes: { transport: 'websocket' }, value: 1 },
    ]);
    // The first app's last count was 2; the second's is 1 (a new count, for a delta reader).
    expect(points(now, 'realtime_publishes')).toEqual([
      { attributes: { origin: 'websocket' }, value: 1 },
    ]);
    expect(points(await cumulative.metrics(), 'realtime_connections')).toEqual([
      { attributes: { transport: 'websocket' }, value: 1 },
    ]);
  });

  it('without a meter, uses the global MeterProvider’s meter "nest-realtime"', async () => {
    const { meterProvider, cumulative } = provider();
    expect(metrics.setGlobalMeterProvider(meterProvider)).toBe(true);
    harness.defer(async () => {
      metrics.disable();
      await meterProvider.shutdown();
    });
    const app = await harness.start(options());
    const carol = await harness.connect(`${app.wsUrl}?user=carol`);
    await join(carol, 'lobby');
    await app.hub.to('lobby').emit('news', 'hi');
    await carol.next(eventIs('news'));

    const { resourceMetrics } = await cumulative.collect();
    expect(resourceMetrics.scopeMetrics.map(({ scope }) => scope.name)).toEqual(['nest-realtime']);
    const seen = await cumulative.metrics();
    expect(points(seen, 'realtime_connections')).toEqual([
      { attributes: { transport: 'websocket' }, value: 1 },
    ]);
    expect(points(seen, 'realtime_publishes')).toEqual([
      { attributes: { origin: 'server' }, value: 1 },
    ]);
    expect(points(seen, 'realtime_deliveries')).toEqual([
      { attributes: { transport: 'websocket' }, value: 1 },
    ]);
  });

  // Regression: a transport with no connection left was not reported at all, and the
  // SDK (cumulative temporality) kept exporting its last value, 1.
  it('realtime_connections reads 0 once the last connection closed', async () => {
    const { meterProvider, cumulative } = provider();
    harness.defer(() => meterProvider.shutdown());
    const app = await harness.start(options(meterProvider.getMeter('gauges')));
    const client = await harness.connect(`${app.wsUrl}?user=ann`);
    await join(client, 'lobby');
    expect(points(await cumulative.metrics(), 'realtime_connections')).toEqual([
      { attributes: { transport: 'websocket' }, value: 1 },
    ]);
    await client.close();
    await until(() => app.hub.connections.count() === 0);
    expect(points(await cumulative.metrics(), 'realtime_connections')).toEqual([
      { attributes: { transport: 'websocket' }, value: 0 },
    ]);
  });
});
