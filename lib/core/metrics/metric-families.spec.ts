import { describe, expect, it } from 'vitest';
import {
  CounterFamily,
  GaugeFamily,
  HistogramFamily,
  OVERFLOW_LABEL,
  SECONDS_BUCKETS,
} from './metric-families.js';

describe('CounterFamily', () => {
  it('counts per label values through inc, add and a kept cell', () => {
    const family = new CounterFamily('t_events', 'Events.', ['transport', 'reason']);
    family.inc('websocket', 'a');
    family.add(4, 'websocket', 'a');
    const cell = family.cell('sse', 'b');
    cell.value += 2;
    cell.value++;
    // The same label values give the same cell.
    expect(family.cell('sse', 'b')).toBe(cell);
    expect(family.read()).toEqual([
      { labels: { transport: 'websocket', reason: 'a' }, value: 5 },
      { labels: { transport: 'sse', reason: 'b' }, value: 3 },
    ]);
  });

  it('a family without labels has one series of empty labels', () => {
    const family = new CounterFamily('t_plain', 'Plain.');
    expect(family.read()).toEqual([]);
    family.inc();
    family.inc();
    expect(family.read()).toEqual([{ labels: {}, value: 2 }]);
  });

  it('adds what pull counts elsewhere at read time, summed with its own cells of the same labels', () => {
    let live = 10;
    const family = new CounterFamily('t_pulled', 'Pulled.', ['transport'], (add) => {
      add(['websocket'], live);
      add(['websocket'], 1);
      add(['grpc'], 7);
    });
    family.add(100, 'websocket');
    expect(family.read()).toEqual([
      { labels: { transport: 'websocket' }, value: 111 },
      { labels: { transport: 'grpc' }, value: 7 },
    ]);
    live = 20; // read again: pull is asked again
    expect(family.read()).toContainEqual({ labels: { transport: 'websocket' }, value: 121 });
  });

  // The series cap (new label values under `_other`) is pinned in
  // test/e2e/observability/found-bugs.spec.ts: past the cap, `cell` recurses for ever.
});

describe('GaugeFamily', () => {
  it('reads its source at each read, summing the values of duplicate label values', () => {
    const transports = ['websocket', 'sse', 'websocket', 'websocket'];
    const family = new GaugeFamily('t_open', 'Open.', ['transport'], (add) => {
      for (const transport of transports) add([transport], 1);
    });
    expect(family.type).toBe('gauge');
    expect(family.read()).toEqual([
      { labels: { transport: 'websocket' }, value: 3 },
      { labels: { transport: 'sse' }, value: 1 },
    ]);
    transports.splice(0, 3);
    expect(family.read()).toEqual([{ labels: { transport: 'websocket' }, value: 1 }]);
  });

  it('a gauge without labels reports its one value, zero included', () => {
    const family = new GaugeFamily('t_up', 'Up.', [], (add) => add([], 0));
    expect(family.read()).toEqual([{ labels: {}, value: 0 }]);
  });
});

describe('HistogramFamily', () => {
  it('counts cumulatively: a value on a bound is in that bound’s bucket, past the last in +Inf', () => {
    const family = new HistogramFamily('t_seconds', 'Seconds.', ['kind'], [0.1, 1, 5]);
    for (const value of [0.05, 0.1, 0.2, 1, 5, 7]) family.observe(value, 'join');
    const [series, ...rest] = family.read();
    expect(rest).toEqual([]);
    expect(series!.labels).toEqual({ kind: 'join' });
    // <= 0.1: 0.05 and 0.1; <= 1: and 0.2 and 1; <= 5: and 5; +Inf: and 7.
    expect(series!.buckets).toEqual([2, 4, 5, 6]);
    expect(series!.count).toBe(6);
    expect(series!.sum).toBeCloseTo(13.35, 10);
  });

  it('keeps a series per label values, and uses SECONDS_BUCKETS unless told', () => {
    const family = new HistogramFamily('t_rpc', 'RPC.', ['direction']);
    expect(family.bounds).toBe(SECONDS_BUCKETS);
    family.observe(SECONDS_BUCKETS[0]!, 'client_to_server');
    family.observe(60, 'server_to_client');
    const read = family.read();
    expect(read.map((series) => series.labels)).toEqual([
      { direction: 'client_to_server' },
      { direction: 'server_to_client' },
    ]);
    expect(read[0]!.buckets).toEqual(Array.from({ length: SECONDS_BUCKETS.length + 1 }, () => 1));
    expect(read[1]!.buckets).toEqual([...SECONDS_BUCKETS.map(() => 0), 1]);
    expect(read[1]).toMatchObject({ sum: 60, count: 1 });
  });

  it('calls every onObserve listener with each value and its labels, from then on', () => {
    const family = new HistogramFamily('t_lag', 'Lag.', ['kind', 'outcome'], [1]);
    family.observe(0.5, 'join', 'ok'); // before any listener: not seen by them
    const first: [number, Record<string, string>][] = [];
    const second: number[] = [];
    family.onObserve((value, labels) => first.push([value, labels]));
    family.onObserve((value) => second.push(value));
    family.observe(2, 'leave', 'error');
    family.observe(0.25, 'join', 'ok');
    expect(first).toEqual([
      [2, { kind: 'leave', outcome: 'error' }],
      [0.25, { kind: 'join', outcome: 'ok' }],
    ]);
    expect(second).toEqual([2, 0.25]);
    expect(family.read().map(({ count }) => count)).toEqual([2, 1]);
  });
});

describe('a family past its series cap', () => {
  // Regression: once full, the table looked the overflow series up as a new series of
  // the full table, for ever (RangeError).
  it('counts new label values under _other (CounterFamily)', () => {
    const family = new CounterFamily('t_capped', 'Capped.', ['room', 'kind'], undefined, 2);
    family.inc('a', 'x');
    family.inc('b', 'x');
    family.inc('c', 'x');
    family.add(5, 'd', 'y');
    family.inc('a', 'x'); // a series made before the cap still counts on its own
    expect(family.read()).toEqual([
      { labels: { room: 'a', kind: 'x' }, value: 2 },
      { labels: { room: 'b', kind: 'x' }, value: 1 },
      { labels: { room: OVERFLOW_LABEL, kind: OVERFLOW_LABEL }, value: 6 },
    ]);
  });

  it('counts new label values under _other (HistogramFamily, 1000 series)', () => {
    const family = new HistogramFamily('t_seconds', 'Seconds.', ['kind'], [1]);
    for (let i = 0; i < 1_000; i++) family.observe(0.5, `k${i}`);
    family.observe(2, 'one too many');
    expect(family.read().at(-1)).toEqual({
      labels: { kind: OVERFLOW_LABEL },
      buckets: [0, 1],
      sum: 2,
      count: 1,
    });
  });
});
