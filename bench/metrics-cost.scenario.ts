import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { burstOnce, connect, cpuOf, memoryOf, withPeer, type Figures } from './measure.js';
import type { Child } from './processes.js';

/**
 * The sizes of one run of the metrics-cost scenario: the fan-out's room and messages.
 *
 * @example
 * ```ts
 * const sizes: MetricsCostSizes = { subscribers: 1_000, processes: 1, burst: 200, seconds: 5 };
 * ```
 */
export interface MetricsCostSizes {
  /** Subscribers in the room, over `processes` client processes. */
  subscribers: number;
  processes: number;
  /** Messages of one burst. */
  burst: number;
  /** How long bursts go back to back, after one that warms up: the measured window. */
  seconds: number;
}

/** A peer with metrics on is named as its twin with them off, and this. */
const METRICS_ON = '+metrics';

/**
 * The same peer with metrics on: its name and {@link METRICS_ON}.
 *
 * @example
 * ```ts
 * withMetrics('nest-realtime'); // 'nest-realtime+metrics'
 * ```
 */
export const withMetrics = (peer: string) => `${peer}${METRICS_ON}`;

/**
 * The peer a metrics-on peer is the twin of (the same, metrics off), or undefined for
 * a peer with metrics off.
 *
 * @example
 * ```ts
 * twinOf('nest-realtime+metrics'); // 'nest-realtime'
 * twinOf('nest-realtime'); // undefined
 * ```
 */
export const twinOf = (peer: string) =>
  peer.endsWith(METRICS_ON) ? peer.slice(0, -METRICS_ON.length) : undefined;

/** How often the scraper GETs /metrics: once a second, as a busy Prometheus would. */
const SCRAPE_INTERVAL = 1_000;

/** Scrapes after the window, back to back on the quiet server, for what one costs it. */
const QUIET_SCRAPES = 20;

/** `GET url`'s text; a scrape that fails fails the run. */
async function scrape(url: string): Promise<string> {
  const response = await fetch(url);
  const text = await response.text();
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${text}`);
  return text;
}

/**
 * A Prometheus stand-in: GETs `url` at once, then every {@link SCRAPE_INTERVAL} on a
 * fixed schedule (a slow scrape delays no later one), until stopped.
 */
class Scraper {
  /** Scrapes done so far. */
  scrapes = 0;
  private readonly stopping = new AbortController();
  private readonly done: Promise<void>;

  constructor(private readonly url: string) {
    this.done = this.loop();
    // A failed scrape is reported by `stop`; until then it must not crash the driver.
    this.done.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    const started = performance.now();
    const { signal } = this.stopping;
    while (!signal.aborted) {
      await scrape(this.url);
      this.scrapes++;
      const next = started + this.scrapes * SCRAPE_INTERVAL - performance.now();
      await sleep(Math.max(0, next), undefined, { signal }).catch(() => undefined);
    }
  }

  /** Stops scraping once the scrape in flight is done; rejects if a scrape failed. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.done;
  }
}

/**
 * Bursts back to back for `seconds`: deliveries/s over the whole window (whatever the
 * server does in it counts, scrapes included), server CPU per delivery over it, and
 * the busiest client process's CPU, as percent of one core.
 */
async function measureWindow(
  server: Child,
  clients: Child[],
  { subscribers, burst, seconds }: MetricsCostSizes,
): Promise<Figures & { deliveries: number }> {
  const [cpu0, ...clientCpu0] = await cpuOf([server, ...clients]);
  const started = performance.timeOrigin + performance.now();
  const end = started + seconds * 1_000;
  let at = started;
  let deliveries = 0;
  while (at < end) {
    ({ at } = await burstOnce(server, clients, subscribers, burst));
    deliveries += subscribers * burst;
  }
  const [cpu1, ...clientCpu1] = await cpuOf([server, ...clients]);
  const micros = (at - started) * 1_000;
  return {
    deliveries,
    deliveriesPerSecond: deliveries / (micros / 1_000_000),
    cpuMicrosPerDelivery: (cpu1! - cpu0!) / deliveries,
    clientCpuPercent: (100 * Math.max(...clientCpu1.map((c, i) => c - clientCpu0[i]!))) / micros,
  };
}

/**
 * {@link QUIET_SCRAPES} scrapes one after the other: the server CPU each costs (what
 * scraping once a second takes of a core, in millionths), and the last one's text.
 */
async function quietScrapes(server: Child, url: string) {
  const [cpu0] = await cpuOf([server]);
  let text = '';
  for (let i = 0; i < QUIET_SCRAPES; i++) text = await scrape(url);
  const [cpu1] = await cpuOf([server]);
  return { cpuMicrosPerScrape: (cpu1! - cpu0!) / QUIET_SCRAPES, text };
}

/** The count `realtime_deliveries_total` gives WebSocket connections in a scrape. */
function deliveriesIn(text: string): number | undefined {
  const found = /^realtime_deliveries_total\{transport="websocket"\} (\d+)$/m.exec(text);
  return found ? Number(found[1]) : undefined;
}

/**
 * What metrics cost fan-out: the fan-out scenario's room (N subscribers, bursts of
 * 100-byte messages, the same clients and mode), with metrics off (`peer`, the app as
 * the README sets it up) or on (`<peer>+metrics`: the same app with
 * `metrics: { type: 'prometheus', path: '/metrics' }`, scraped once a second from the
 * driver's process through the window). After the window, server RSS after GC; with
 * metrics on, the scrapes in the window, the server CPU of a scrape on the quiet
 * server, and a check that the metrics counted every delivery. run.ts interleaves
 * the runs of off and on.
 *
 * @example
 * ```ts
 * const figures = await metricsCost('nest-realtime+metrics', { ...FULL.fanout, seconds: 5 });
 * ```
 */
export function metricsCost(peer: string, sizes: MetricsCostSizes): Promise<Figures> {
  const twin = twinOf(peer);
  const on = twin !== undefined;
  const env: Record<string, string> = on ? { BENCH_METRICS: 'prometheus' } : {};
  return withPeer(
    peer,
    sizes.processes,
    async (server, port, clients) => {
      // The clients are the twin's: only the server differs.
      await connect(clients, twin ?? peer, port, sizes.subscribers);
      const url = `http://127.0.0.1:${port}/metrics`;
      const scraper = on ? new Scraper(url) : undefined;
      let figures: Figures & { deliveries: number };
      let scrapes = 0;
      try {
        await burstOnce(server, clients, sizes.subscribers, sizes.burst); // warms up
        const before = scraper?.scrapes ?? 0;
        figures = await measureWindow(server, clients, sizes);
        scrapes = (scraper?.scrapes ?? 0) - before;
      } finally {
        await scraper?.stop();
      }
      const { deliveries, ...measured } = figures;
      const { rss } = await memoryOf(server);
      if (!on) return { ...measured, rssBytes: rss };
      const { cpuMicrosPerScrape, text } = await quietScrapes(server, url);
      const counted = deliveriesIn(text);
      const sent = deliveries + sizes.subscribers * sizes.burst; // and the warm-up's
      if (counted !== sent) {
        throw new Error(`${peer}: /metrics counts ${counted} deliveries of ${sent}`);
      }
      return { ...measured, rssBytes: rss, scrapes, cpuMicrosPerScrape };
    },
    { env },
  );
}
