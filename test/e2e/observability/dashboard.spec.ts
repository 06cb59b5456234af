// The Grafana dashboard of docs/ against a live scrape: every metric its queries name is
// one the app exports, and every label they use is one of that metric's, so renaming a
// metric or a label fails here until the dashboard follows.
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RealtimeMetrics } from '../../../lib/core/metrics/realtime-metrics.js';
import { RpcService } from '../../../lib/index.js';
import { appForEachTest, join, userFromQuery } from '../../support/fixtures.js';
import { scrape, type Scrape } from '../../support/prometheus.js';

const root = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

interface Target {
  readonly expr: string;
  readonly legendFormat?: string;
  readonly datasource?: { type: string; uid: string };
}
interface Panel {
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly Target[];
}
interface Variable {
  readonly type: string;
  readonly name: string;
  readonly query: string | { query: string };
}
interface Dashboard {
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: { list: readonly Variable[] };
}

const dashboard = JSON.parse(read('docs/grafana/nest-realtime-dashboard.json')) as Dashboard;
const targets = dashboard.panels.flatMap((panel) => panel.targets ?? []);
/** The variables' queries (`label_values(...)`), which name metrics too. */
const variableQueries = dashboard.templating.list
  .filter((variable) => variable.type === 'query')
  .map(({ query }) => (typeof query === 'string' ? query : query.query));
const queries = [...targets.map((target) => target.expr), ...variableQueries];

/** Labels every series has in Prometheus: the scrape target's. */
const TARGET_LABELS = new Set(['job', 'instance']);
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

/**
 * The WebRTC gauges, named where they are registered: they exist only with server
 * peers on (werift), which this app does not start.
 */
function webrtcGauges(): Map<string, readonly string[]> {
  const source = read('lib/transports/webrtc/webrtc-signaling.service.ts');
  const gauges = new Map<string, readonly string[]>();
  for (const [, name, labels] of source.matchAll(
    /metrics\.gauge\(\s*'(realtime_webrtc_[a-z_]+)',\s*'[^']*',\s*\[([^\]]*)\]/g,
  )) {
    gauges.set(
      name!,
      [...labels!.matchAll(/'(\w+)'/g)].map(([, label]) => label!),
    );
  }
  return gauges;
}

/** Each exported name (as Prometheus shows it) with its labels, from the app's families. */
function exportedLabels(metrics: RealtimeMetrics): Map<string, readonly string[]> {
  const labels = new Map<string, readonly string[]>(webrtcGauges());
  for (const family of metrics.families()) {
    const names =
      family.type === 'counter'
        ? [`${family.name}_total`]
        : family.type === 'histogram'
          ? ['_bucket', '_sum', '_count'].map((suffix) => family.name + suffix)
          : [family.name];
    for (const name of names) {
      labels.set(name, [...family.labelNames, ...(name.endsWith('_bucket') ? ['le'] : [])]);
    }
  }
  return labels;
}

/** The metric names a query uses. */
function metricsOf(query: string): string[] {
  return [...new Set([...query.matchAll(/realtime_[a-z_]+/g)].map(([name]) => name))];
}

/** Labels a query uses that none of its metrics has (beyond the target's). */
function unknownLabels(
  query: string,
  legend: string | undefined,
  known: Map<string, readonly string[]>,
): string[] {
  const has = (metrics: readonly string[], label: string) =>
    TARGET_LABELS.has(label) || metrics.some((name) => known.get(name)?.includes(label));
  const used = metricsOf(query);
  const wrong: string[] = [];
  // In a selector, a label must be that metric's own.
  for (const [, name, matchers] of query.matchAll(/(realtime_[a-z_]+)\s*\{([^}]*)\}/g)) {
    for (const [, label] of matchers!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) {
      if (!has([name!], label!)) wrong.push(`${name}{${label}}`);
    }
  }
  // Grouping, label_values' label and the legend: a label of one of the query's metrics.
  const grouped = [...query.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)].flatMap(([, list]) =>
    list!.split(',').map((label) => label.trim()),
  );
  const listed = [...query.matchAll(/label_values\([^,]+,\s*(\w+)\s*\)/g)].map(([, l]) => l!);
  const legends = [...(legend ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map(([, l]) => l!);
  for (const label of [...grouped, ...listed, ...legends]) {
    if (!has(used, label)) wrong.push(`${label} in ${query}`);
  }
  return wrong;
}

describe('the Grafana dashboard', () => {
  it('is a schema 39 dashboard on a ${datasource} Prometheus variable, with job and instance', () => {
    expect(dashboard.schemaVersion).toBe(39);
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    expect(variables.get('datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(variables.get('job')?.type).toBe('query');
    expect(variables.get('instance')?.type).toBe('query');
    expect(
      dashboard.panels.filter((panel) => panel.type === 'row').map((row) => row.title),
    ).toEqual([
      'Connections',
      'Rooms and presence',
      'Messages',
      'Recovery and history',
      'Delivery and RPC',
      'Cluster',
      'WebRTC',
    ]);
    expect(targets.length).toBeGreaterThan(25);
    const elsewhere = targets.filter(
      ({ datasource }) => datasource?.type !== 'prometheus' || datasource.uid !== '${datasource}',
    );
    expect(elsewhere.map((target) => target.expr)).toEqual([]);
    const unfiltered = targets.filter(({ expr }) => !expr.includes('job=~"$job"'));
    expect(unfiltered.map((target) => target.expr)).toEqual([]);
  });

  describe('against a scrape of an app', () => {
    const rt = appForEachTest({
      authenticate: userFromQuery,
      websocket: { path: '/ws' },
      metrics: { type: 'prometheus', registry: new Registry(), path: '/metrics' },
    });

    it('uses only metrics and labels that a scrape of the app has', async () => {
      const rpc = rt.app.app.get(RpcService);
      rpc.register('sum', (params) => (params as number[]).reduce((a, b) => a + b, 0));
      const alice = await rt.connect('alice');
      await join(alice, 'lobby');
      expect(
        (await alice.request('rt:publish', { room: 'lobby', event: 'chat', data: 1 })).error,
      ).toBeUndefined();
      expect((await alice.request('rt:call', { method: 'sum', params: [1, 2] })).data).toBe(3);
      const seen: Scrape = await scrape(`http://127.0.0.1:${rt.app.port}/metrics`);

      const webrtc = webrtcGauges();
      expect([...webrtc.keys()].toSorted()).toEqual([
        'realtime_webrtc_data_channels',
        'realtime_webrtc_server_peers',
        'realtime_webrtc_tracks',
      ]);
      const used = [...new Set(queries.flatMap(metricsOf))];
      expect(used.length).toBeGreaterThan(20);
      const missing = used.filter((name) => {
        if (webrtc.has(name)) return false;
        // A histogram's series are declared under the family's name.
        const family = name.replace(HISTOGRAM_SERIES, '');
        if (family !== name && seen.types.get(family) === 'histogram') return false;
        return !seen.types.has(name);
      });
      expect(missing).toEqual([]);
      // The RPC call was timed: its histogram's buckets are in the scrape, not just declared.
      expect(seen.series('realtime_rpc_duration_seconds_bucket').length).toBeGreaterThan(0);

      const known = exportedLabels(rt.app.app.get(RealtimeMetrics));
      const wrong = [
        ...targets.flatMap((target) => unknownLabels(target.expr, target.legendFormat, known)),
        ...variableQueries.flatMap((query) => unknownLabels(query, undefined, known)),
      ];
      expect(wrong).toEqual([]);
    });
  });
});
