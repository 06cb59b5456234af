import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { startApp } from '../../../test/support/app.js';
import { withHarness } from '../../../test/support/fixtures.js';
import { scrape } from '../../../test/support/prometheus.js';
import { RealtimeConfigError } from '../../options-check.js';
import { resolveMetricsOptions, type MetricsOptions } from './metrics.options.js';

const KNOWN = 'type, registry, path, meter, roomLabels, maxRoomSeries';
const registry = new Registry();
const meter = new MeterProvider().getMeter('metrics-options-spec');
const patterns = (count: number) => Array.from({ length: count }, (_, i) => `room${i}:*`);

/** What `resolveMetricsOptions` threw for `given` (undefined when it did not throw). */
function refusal(given: unknown): unknown {
  try {
    resolveMetricsOptions(given as MetricsOptions);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('resolveMetricsOptions', () => {
  it('is off when not set', () => {
    expect(resolveMetricsOptions(undefined)).toBeUndefined();
  });

  it('resolves good inputs with the defaults: no room labels, 100 room series', () => {
    expect(resolveMetricsOptions({ type: 'prometheus' })).toEqual({
      type: 'prometheus',
      roomLabels: [],
      maxRoomSeries: 100,
    });
    expect(resolveMetricsOptions({ type: 'otel' })).toEqual({
      type: 'otel',
      roomLabels: [],
      maxRoomSeries: 100,
    });
    expect(
      resolveMetricsOptions({
        type: 'prometheus',
        registry,
        path: '/internal/metrics',
        roomLabels: ['support:*'],
        maxRoomSeries: 5,
      }),
    ).toEqual({
      type: 'prometheus',
      registry,
      path: '/internal/metrics',
      roomLabels: ['support:*'],
      maxRoomSeries: 5,
    });
    expect(resolveMetricsOptions({ type: 'otel', meter, roomLabels: patterns(20) })).toEqual({
      type: 'otel',
      meter,
      roomLabels: patterns(20),
      maxRoomSeries: 100,
    });
    // An option given as undefined is as good as not given.
    expect(resolveMetricsOptions({ type: 'otel', maxRoomSeries: undefined })).toMatchObject({
      maxRoomSeries: 100,
    });
  });

  it.each<[string, unknown, string, string]>([
    ['not an object', 'prometheus', 'metrics', 'an object, got "prometheus"'],
    ['null', null, 'metrics', 'an object, got null'],
    ['an array', [], 'metrics', 'an object, got an array'],
    ['missing type', {}, 'metrics.type', `'prometheus' or 'otel', got undefined`],
    ['unknown type', { type: 'statsd' }, 'metrics.type', `'prometheus' or 'otel', got "statsd"`],
    [
      'unknown key',
      { type: 'prometheus', prefix: 'rt_' },
      'metrics.prefix',
      `one of the known options (${KNOWN}), got "rt_"`,
    ],
    [
      'registry not a registry',
      { type: 'prometheus', registry: {} },
      'metrics.registry',
      'a prom-client Registry, got [object Object]',
    ],
    [
      'path without a leading slash',
      { type: 'prometheus', path: 'metrics' },
      'metrics.path',
      'a path starting with "/" (no spaces, query or fragment), got "metrics"',
    ],
    [
      'path with type otel',
      { type: 'otel', path: '/metrics' },
      'metrics.path',
      `unset with type 'otel', got "/metrics"`,
    ],
    [
      'registry with type otel',
      { type: 'otel', registry },
      'metrics.registry',
      `unset with type 'otel'`,
    ],
    [
      'meter with type prometheus',
      { type: 'prometheus', meter },
      'metrics.meter',
      `unset with type 'prometheus'`,
    ],
    [
      'meter not a meter',
      { type: 'otel', meter: registry },
      'metrics.meter',
      'an OpenTelemetry Meter',
    ],
    [
      'roomLabels not an array',
      { type: 'prometheus', roomLabels: 'support:*' },
      'metrics.roomLabels',
      'a list of at most 20 room-name patterns, got "support:*"',
    ],
    [
      'roomLabels of 21 patterns',
      { type: 'prometheus', roomLabels: patterns(21) },
      'metrics.roomLabels',
      'a list of at most 20 room-name patterns, got an array',
    ],
    [
      'roomLabels with an empty pattern',
      { type: 'prometheus', roomLabels: ['support:*', ''] },
      'metrics.roomLabels',
      'a list of at most 20 room-name patterns, got an array',
    ],
    [
      'roomLabels with a pattern not a string',
      { type: 'prometheus', roomLabels: [3] },
      'metrics.roomLabels',
      'a list of at most 20 room-name patterns, got an array',
    ],
    [
      'maxRoomSeries 0',
      { type: 'prometheus', maxRoomSeries: 0 },
      'metrics.maxRoomSeries',
      'a positive integer, at most 1000, got 0',
    ],
    [
      'maxRoomSeries past the families’ cap',
      { type: 'prometheus', maxRoomSeries: 1_001 },
      'metrics.maxRoomSeries',
      'a positive integer, at most 1000, got 1001',
    ],
    [
      'maxRoomSeries 1.5',
      { type: 'prometheus', maxRoomSeries: 1.5 },
      'metrics.maxRoomSeries',
      'a positive integer, at most 1000, got 1.5',
    ],
  ])('refuses %s, naming the option', (_case, given, option, expected) => {
    const error = refusal(given);
    expect(error).toBeInstanceOf(RealtimeConfigError);
    expect(error).toMatchObject({
      option,
      message: expect.stringContaining(
        `Invalid nest-realtime option "${option}": expected ${expected}`,
      ),
    });
  });
});

describe('metrics.registry of two apps alive at once', () => {
  const harness = withHarness();

  it('the second app on the same registry fails to start with the error about metrics.registry', async () => {
    const shared = new Registry();
    const options = {
      metrics: { type: 'prometheus', registry: shared, path: '/metrics' },
    } as const;
    const first = await harness.start(options);
    const failure = startApp(options);
    await expect(failure).rejects.toBeInstanceOf(RealtimeConfigError);
    await expect(failure).rejects.toMatchObject({
      option: 'metrics.registry',
      message: expect.stringContaining('two apps in one process need a registry each'),
    });
    // The first app's metrics stayed in the registry: its scrape still has them.
    const seen = await scrape(`http://127.0.0.1:${first.port}/metrics`);
    expect(seen.types.get('realtime_connections_opened_total')).toBe('counter');
    expect(seen.value('realtime_engine_available')).toBe(1);
    // Closed, the first app takes its metrics out: the registry serves a new app.
    harness.forget(first);
    await first.close();
    expect(shared.getMetricsAsArray()).toEqual([]);
    const next = await harness.start(options);
    const again = await scrape(`http://127.0.0.1:${next.port}/metrics`);
    expect(again.value('realtime_connections_opened_total')).toBe(0);
    expect(again.value('realtime_engine_available')).toBe(1);
  });
});
