import type { Figures, ScenarioName } from './scenarios.js';
import { barChart, lineChart } from './charts.js';
import { twinOf, withMetrics } from './metrics-cost.scenario.js';

export type Results = Partial<Record<ScenarioName, Record<string, Figures>>>;

export interface Run {
  readonly date: string;
  readonly node: string;
  readonly cpus: string;
  readonly cores: number;
  readonly results: Results;
  /** When and where each scenario's figures were taken (a run of some scenarios keeps the others'). */
  readonly measured?: Partial<Record<ScenarioName, string>>;
  /** The machine's 1-minute load average as each peer's run of a scenario started. */
  readonly load?: Partial<Record<ScenarioName, Record<string, number>>>;
}

/** Our row in every scenario: plain frames, one per message, as every peer sends. */
const OURS = 'nest-realtime';
/** Our batched mode: shown, compared with no peer (none of them batches). */
const BATCHED = 'nest-realtime-batched';
/** Above this, a client process was the limit: the figure is a lower bound. */
const SATURATED_CLIENT_PERCENT = 90;

/**
 * A target from the benchmark issue: our figure against a peer's, as a ratio, or, for
 * a figure near 0 where a ratio says nothing (bytes kept per message), as the most
 * ours may be above theirs. `ours` is our row (plain frames unless it names another).
 */
type Target = {
  readonly scenario: ScenarioName;
  readonly figure: string;
  readonly peer: string;
  readonly ours?: string;
} & ({ readonly better: 'higher' | 'lower'; readonly ratio: number } | { readonly margin: number });

const TARGETS: readonly Target[] = [
  {
    scenario: 'fanout',
    figure: 'deliveriesPerSecond',
    peer: 'ws-coalesced',
    better: 'higher',
    ratio: 2,
  },
  {
    scenario: 'fanout',
    figure: 'deliveriesPerSecond',
    peer: 'socketio',
    better: 'higher',
    ratio: 3,
  },
  {
    scenario: 'fanout',
    figure: 'cpuMicrosPerDelivery',
    peer: 'ws-coalesced',
    better: 'lower',
    ratio: 0.5,
  },
  { scenario: 'latency', figure: 'p99At20', peer: 'ws-coalesced', better: 'lower', ratio: 1 },
  { scenario: 'memory', figure: 'rssBytesPerConnection', peer: 'ws', better: 'lower', ratio: 1 },
  { scenario: 'memory', figure: 'heapBytesPerConnection', peer: 'ws', better: 'lower', ratio: 1.5 },
  { scenario: 'sse', figure: 'deliveriesPerSecond', peer: 'nest-sse', better: 'higher', ratio: 2 },
  { scenario: 'sse', figure: 'rssBytesPerStream', peer: 'nest-sse', better: 'lower', ratio: 1 },
  {
    scenario: 'grpc',
    figure: 'deliveriesPerSecond',
    peer: 'grpc-js',
    better: 'higher',
    ratio: 1.5,
  },
  // Nothing kept per message: an array slot alone would be 8 bytes a message; the two
  // servers' slopes differ by under half a byte from one run to the next.
  {
    scenario: 'grpc-publish-stream-heap',
    figure: 'heapBytesPerMessage',
    peer: 'grpc-js',
    margin: 4,
  },
  // Issue 21: metrics on cost at most 5% of fan-out throughput, in either mode.
  {
    scenario: 'metrics-cost',
    figure: 'deliveriesPerSecond',
    ours: withMetrics(OURS),
    peer: OURS,
    better: 'higher',
    ratio: 0.95,
  },
  {
    scenario: 'metrics-cost',
    figure: 'deliveriesPerSecond',
    ours: withMetrics(BATCHED),
    peer: BATCHED,
    better: 'higher',
    ratio: 0.95,
  },
];

function format(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(2);
}

/** The busiest client process's CPU beside a figure, where the scenario measured it. */
function clientCpu(figures: Figures | undefined, figure: string): number | undefined {
  if (!figures) return undefined;
  const at = /At\d+$/.exec(figure)?.[0] ?? '';
  return figures[`clientCpuPercent${at}`] ?? figures.clientCpuPercent;
}

/** What a target asks, as its line in the table says it. */
function labelOf(target: Target): string {
  const { scenario, figure, peer } = target;
  const what = `${scenario} ${figure}:${target.ours ? ` ${target.ours}` : ''}`;
  if ('margin' in target) return `${what} <= ${peer} + ${target.margin}`;
  return `${what} ${target.better === 'higher' ? '>=' : '<='} ${target.ratio}x ${peer}`;
}

/** Our figure against the peer's as the target compares them: the ratio or difference, and whether it is met. */
function compare(target: Target, ours: number, theirs: number): { shown: string; met: boolean } {
  if ('margin' in target) {
    const difference = ours - theirs;
    const shown = `${difference >= 0 ? '+' : ''}${format(difference)}`;
    return { shown, met: difference <= target.margin };
  }
  const ratio = ours / theirs;
  const met = target.better === 'higher' ? ratio >= target.ratio : ratio <= target.ratio;
  return { shown: format(ratio), met };
}

/** One target's line: both figures, the ratio (or difference), met or missed, and whether the clients were the limit. */
function verdict(run: Run, target: Target): string {
  const byPeer = run.results[target.scenario as ScenarioName];
  const oursRow = target.ours ?? OURS;
  const ours = byPeer?.[oursRow]?.[target.figure];
  const theirs = byPeer?.[target.peer]?.[target.figure];
  const label = labelOf(target);
  // A difference needs both figures; a ratio, a peer's figure that is not 0 too.
  if (ours === undefined || theirs === undefined || (!theirs && !('margin' in target))) {
    return `| ${label} | - | - | - | not measured |`;
  }
  const { shown, met } = compare(target, ours, theirs);
  const notes = [met ? '**met**' : '**missed**'];
  for (const peer of [oursRow, target.peer]) {
    const cpu = clientCpu(byPeer?.[peer], target.figure);
    if (cpu !== undefined && cpu >= SATURATED_CLIENT_PERCENT) {
      notes.push(`${peer}'s clients at ${Math.round(cpu)}% CPU: a lower bound`);
    }
  }
  return `| ${label} | ${format(ours)} | ${format(theirs)} | ${shown} | ${notes.join('; ')} |`;
}

/** A ratio column: `row`'s figure over `base`'s, headed as such (`ours / peer` when `row` is ours). */
interface Ratio {
  readonly row: string;
  readonly base: string;
}

function table(run: Run, scenario: string, byPeer: Record<string, Figures>): string[] {
  const peers = Object.keys(byPeer).filter((p) => Object.keys(byPeer[p]!).length > 0);
  // A metrics-on row is compared with its twin (metrics off) alone.
  const twinned = peers.filter((p) => peers.includes(twinOf(p) ?? ''));
  const ratios: Ratio[] = [
    ...peers
      .filter((p) => p !== OURS && p !== BATCHED && !twinned.includes(p))
      .map((base) => ({ row: OURS, base })),
    ...twinned.map((row) => ({ row, base: twinOf(row)! })),
  ];
  const keys = [...new Set(peers.flatMap((p) => Object.keys(byPeer[p]!)))];
  const lines: string[] = [];
  const measured = run.measured?.[scenario as ScenarioName];
  const load = run.load?.[scenario as ScenarioName];
  if (measured) lines.push(`Measured ${measured}.`, '');
  if (load) {
    const each = Object.entries(load).map(([peer, value]) => `${peer} ${value.toFixed(2)}`);
    lines.push(`Load average (1 min) as each peer's run started: ${each.join(', ')}.`, '');
  }
  const names = peers.map((p) => (p === BATCHED ? `${BATCHED} (own row)` : p));
  const heads = ratios.map(({ row, base }) => ` ${row === OURS ? 'ours' : row} / ${base} |`);
  lines.push(`| figure | ${names.join(' | ')} |${heads.join('')}`);
  lines.push(
    `| --- |${peers.map(() => ' ---: |').join('')}${ratios.map(() => ' ---: |').join('')}`,
  );
  for (const key of keys) {
    const shown = ratios.map(({ row, base }) => {
      const ours = byPeer[row]?.[key];
      const theirs = byPeer[base]?.[key];
      return format(ours === undefined || !theirs ? undefined : ours / theirs);
    });
    lines.push(
      `| ${key} | ${peers.map((p) => format(byPeer[p]?.[key])).join(' | ')} |${shown.map((r) => ` ${r} |`).join('')}`,
    );
  }
  return lines;
}

/** RESULTS.md: the targets, then every figure of every scenario for each of its peers. */
export function markdown(run: Run): string {
  const lines = [
    '# Benchmark results',
    '',
    `Last run ${run.date} on ${run.cores} cores (${run.cpus}), Node ${run.node}, by \`npm run bench\`.`,
    "Every figure of a table comes from the same run (its date is under its title); ratios are ours (nest-realtime, plain frames) divided by the peer's.",
    '',
    '## Targets',
    '',
    '| target | ours | peer | ratio or difference | verdict |',
    '| --- | ---: | ---: | ---: | --- |',
    ...TARGETS.map((target) => verdict(run, target)),
    '',
  ];
  for (const [scenario, byPeer] of Object.entries(run.results)) {
    lines.push(`## ${scenario}`, '', ...table(run, scenario, byPeer), '');
  }
  lines.push(
    '![fan-out and latency per peer](chart.svg)',
    '',
    '![fan-out and memory per connection as connections grow](scale.svg)',
    '',
    '![presence frames per observer in a join storm, against the bound](presence.svg)',
    '',
    NOTES,
  );
  return lines.join('\n');
}

const points = (figures: Figures | undefined, prefix: string) =>
  Object.entries(figures ?? {})
    .filter(([key]) => key.startsWith(`${prefix}At`))
    .map(([key, value]) => ({ x: Number(key.slice(prefix.length + 2)), y: value }))
    .toSorted((a, b) => a.x - b.x);

const bars = (of: Record<string, Figures> | undefined, figure: string) =>
  Object.entries(of ?? {})
    .filter(([, f]) => f[figure] !== undefined)
    .map(([peer, f]) => ({ label: peer, value: f[figure]! }));

/** The SVG charts of a run, by file name. */
export function charts(run: Run): Record<string, string> {
  const { fanout, latency, scale, presence } = run.results;
  const curves = (figure: string) =>
    Object.entries(scale ?? {}).map(([peer, f]) => ({ label: peer, points: points(f, figure) }));
  const ours = presence?.[OURS];
  return {
    'chart.svg': barChart([
      {
        title: 'fan-out: deliveries/s (higher is better)',
        bars: bars(fanout, 'deliveriesPerSecond'),
      },
      {
        title: 'latency p99 at 20 publishes/s, ms (lower is better)',
        bars: bars(latency, 'p99At20'),
      },
    ]),
    'scale.svg': lineChart([
      { title: 'fan-out deliveries/s by connections', curves: curves('deliveriesPerSecond') },
      { title: 'RSS bytes per connection by connections', curves: curves('rssBytesPerConnection') },
    ]),
    'presence.svg': lineChart([
      {
        title: 'presence frames per observer by users in the room',
        curves: [
          { label: 'mean', points: points(ours, 'framesPerObserver') },
          { label: 'busiest observer', points: points(ours, 'maxFramesPerObserver') },
          { label: 'bound', points: points(ours, 'boundFramesPerObserver') },
        ],
      },
      {
        title: 'presence bytes per observer by users in the room',
        curves: [{ label: 'diffs', points: points(ours, 'presenceBytesPerObserver') }],
      },
    ]),
  };
}

/** What the tables cannot say: how the figures are taken, and what a missed target means. */
const NOTES = `## How the figures are taken

- Each peer is a minimal idiomatic server of its kind (bench/peers): raw \`ws\` with rooms as a
  Map of Sets and one pre-serialised string per message (\`ws\`), the same with each socket's
  writes coalesced into one per tick, as a careful hand-written server does (\`ws-coalesced\`);
  Socket.IO 4 with \`io.to(room).emit\`, websocket transport only; nest-realtime through a real
  Nest app configured as the README teaches: authenticated users (each client a user of its
  own), presence on, history kept for the room, every limit at its default (the publisher is
  the server, \`hub.to(room).emit\`, which no client rate limit applies to). Every peer runs
  the same heartbeat (ping every 25 s, 10 s to answer).
- \`nest-realtime\` is read with plain frames, one WebSocket frame per message as every peer
  sends; \`nest-realtime-batched\` is the same server read with \`?rt-batch=1\` (a tick's
  frames as one \`rt:batch\` frame), a row of its own compared with no peer, as none batches.
- The server runs in a process of its own; load clients are in other processes: raw TCP
  sockets that do the WebSocket handshake and read frame headers (bench/raw-socket.ts),
  counting a frame by its first bytes without decoding it, the same client for every peer.
  \`clientCpuPercent\` is the busiest client process's CPU while measuring, as percent of
  one core: near 100 the clients were the limit, and the figure is a lower bound (the
  targets table says so). Server CPU is \`process.cpuUsage\` of the server process, divided
  by the deliveries.
- fanout: 1 room, 1,000 subscribers, bursts of 200 messages of about 100 bytes emitted
  back to back in one tick; the median of 5 bursts after a warm-up. Deliveries/s is counted
  at the clients, from the burst's start to the last message at the last client.
- latency: 1,000 subscribers; the server publishes at 20/s (sustainable for every peer),
  200/s and 400/s (400,000 deliveries/s: one write per socket per message, which no server
  that sends a frame per message sustains here; batching does) for 5 s each; every
  delivery counts, from the moment the schedule meant the message to go to its arrival,
  so a server that falls behind shows its lag.
- memory: 10,000 idle clients in one room; RSS and heap after GC, minus the same before
  the clients came, per connection; the medians of three fresh servers.
- connections: clients from 127.0.0.1-4, held for 60 s with the heartbeat running;
  \`dropped\` counts connections that closed.
- storm: 5,000 clients connecting at once; the time until the last has joined its room.
- crossnode: two nodes on one \`redis-server\` (started by the bench on a free port):
  1,000 subscribers on node B, bursts of 200 messages published on node A; deliveries/s
  at the clients, median of 5 bursts after a warm-up. Socket.IO uses
  \`@socket.io/redis-adapter\`; nest-realtime its Redis engine (which numbers and keeps
  each room message, for recovery). Raw \`ws\` has no cross-node mode and sits out.
- scale: one server, clients added up to 1,000, 5,000, 10,000 and 19,000 (over two client
  processes); at each point memory per connection after GC, then bursts of 20 messages.
- presence: N users connecting at once, each joining the room and following its members
  (\`rt:join { presence: true }\`); \`rt:room-presence\` frames and bytes per observer until
  the room is quiet, against the bound the protocol promises (one diff per room per
  \`presence.batchInterval\`, 100 ms: the storm's length / 100 ms + 1). The join replies'
  member snapshots are counted apart.
- grpc-publish-stream-heap: one grpc-js client (retries off, as a retrying call keeps every
  message it sent) writes one \`PublishStream\` of 65,000 messages of about 100 bytes into
  the room, 500 at a time, and a \`Subscribe\` call in the room hears each step arrive; at
  5,000, 25,000, 45,000 and 65,000 messages the server's heap after GC (\`heapUsedAt<n>\`),
  and the slope from the first to the last is \`heapBytesPerMessage\`: what the open stream
  keeps per message. The peer is a grpc-js server publishing each message as it comes and
  counting them for its summary; nest-realtime runs without \`rateLimit\` here, which would
  refuse most of a client's 65,000 messages. Before issue 20.2's fix (2f54e64, a summary
  listing every message's place) ours kept 115 bytes a message.
- metrics-cost: the fan-out's room (1,000 subscribers, bursts of 200 messages of about 100
  bytes, the same clients), plain frames and batched, with metrics off (\`nest-realtime\`,
  \`nest-realtime-batched\`: the app above) and on (\`+metrics\`: the same app with
  \`metrics: { type: 'prometheus', path: '/metrics' }\`, which the driver's process GETs once
  a second, as Prometheus would). Each run is a fresh server: one burst warms up, then bursts
  go back to back for 5 s, and deliveries/s and server CPU per delivery are taken over that
  whole window, so that the scrapes landing in it count (a median of bursts would leave them
  out). Then the server's RSS after GC (\`rssBytes\`); with metrics on, the scrapes in the
  window, the server CPU of one scrape (\`cpuMicrosPerScrape\`, over 20 back to back on the
  quiet server: scraping once a second takes that many millionths of a core), and the run
  fails unless \`/metrics\` counted every delivery. Each peer runs 7 times, the four in turn
  and reversed every other pass (a, b, c, d, d, c, b, a, ...); each figure, and the load
  average, is the median of a peer's runs, and a \`+metrics\` column is that row over its
  twin. The library counts traffic on each connection whether metrics are on or not: on
  adds the Prometheus collectors and the scrapes.

## What remains

- **RSS per connection against raw \`ws\`**: RSS follows the heap, and a connection of an
  app as the README sets it up keeps more heap than a bare \`ws\` socket (about 1.45x: Nest
  binds each gateway's handlers to every connection; presence and rooms record each user
  and connection; the connection keeps its frame queue, rate limit and the headers apps
  read). What lies outside the heap (the TCP handle, stream state) costs the same for
  both. At that heap, RSS comes to 1.0-1.1x \`ws\` (single figures move by some 10%: the
  scale scenario's points range from 0.9x to 1.3x); RSS at or under \`ws\`'s needs the
  heap at \`ws\`'s level.
- **Plain fan-out's clients** run near 80% of a core (the server spends 0.15 µs a
  delivery, the same as in batched mode): the deliveries/s of plain frames are close to
  what one client process reads, so the figure may be a lower bound.
- **The presence join storm**: frames per follower stay far under the bound and each
  follower hears of each member once, but each join reply lists the room's members
  (O(N) bytes for each of N users joining): 5,000 users joining at once take about 5x
  as long as without presence.

- **metrics-cost's deliveries/s** swing on this shared two-core machine (one run's figure
  by up to 3x from the next; in four benches within an hour, the on/off ratio of the
  medians came out anywhere from 0.80 to 1.12, in either mode), far more than the 5% the
  target allows: its verdict is noise here. Server CPU per delivery is steadier: with the
  scraper running it is about 5% above metrics off (the median of 26 runs' ratios to the
  run beside them, in either mode; in a trial run with no scrape in the window, not kept,
  it was level), while one scrape of the quiet server costs 2-3 ms, under 1% of the
  window's server CPU. Whether the rest is the scrapes disturbing the fan-out or the
  scraper's process sharing the two cores, a CPU profile would tell.

- **50,000 connections**: a process on this machine may hold 20,000 file descriptors
  (\`ulimit -n\` is 20000 and the hard limit cannot be raised here), so one server cannot
  hold 50,000 sockets whatever the code does. The connections scenario holds 19,000 (one
  descriptor per socket, plus the server's own) with none dropped.
`;
