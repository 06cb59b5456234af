import type { Figures, ScenarioName } from './scenarios.js';

export type Results = Partial<Record<ScenarioName, Record<string, Figures>>>;

export interface Run {
  readonly date: string;
  readonly node: string;
  readonly cpus: string;
  readonly cores: number;
  readonly results: Results;
  /** When and where each scenario's figures were taken (a run of some scenarios keeps the others'). */
  readonly measured?: Partial<Record<ScenarioName, string>>;
}

const OURS = 'nest-realtime';
const PEERS = ['ws', 'socketio'] as const;

/** The figures the issue sets targets on: which direction is better, and the target ratio. */
const TARGETS: Record<string, { better: 'higher' | 'lower'; vs: Partial<Record<string, number>> }> =
  {
    'fanout.deliveriesPerSecond': { better: 'higher', vs: { ws: 1.5, socketio: 1.5 } },
    'fanout.cpuMicrosPerDelivery': { better: 'lower', vs: { ws: 0.6 } },
    'latency.p99At20': { better: 'lower', vs: { ws: 1.1 } },
    'memory.rssBytesPerConnection': { better: 'lower', vs: { ws: 1.25, socketio: 0.6 } },
    'crossnode.deliveriesPerSecond': { better: 'higher', vs: { socketio: 1.5 } },
  };

/** Figures with a floor of their own rather than a ratio. */
const FLOORS: Record<string, number> = { 'connections.heldAtEnd': 50_000 };

function format(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(2);
}

/** What the tables cannot say: how the figures are taken, and what a missed target means. */
const NOTES = `## How the figures are taken

- Each peer is a minimal idiomatic server of its kind (bench/peers): raw \`ws\` with rooms as a
  Map of Sets and one pre-serialised string per message; Socket.IO 4 with \`io.to(room).emit\`,
  websocket transport only; nest-realtime through a real Nest app with RealtimeModule. All
  three run the same heartbeat (ping every 25 s, 10 s to answer).
- The server runs in a process of its own; load clients are raw \`ws\` sockets in other
  processes, speaking each peer's protocol. Server CPU is \`process.cpuUsage\` in the
  server process, divided by the deliveries.
- fanout: 1 room, 1,000 subscribers, bursts of 200 messages of about 100 bytes emitted
  back to back in one tick; the median of 5 bursts after a warm-up. Deliveries/s is counted
  at the clients, from the burst's start to the last message at the last client.
- latency: 1,000 subscribers; the server publishes at 20/s (sustainable) and at 400/s
  (400,000 deliveries/s, past what the other peers deliver) for 5 s; every delivery
  counts, from the moment the schedule meant the message to go to its arrival, so a
  server that falls behind shows its lag.
- memory: 10,000 idle clients in one room; RSS and heap after GC, minus the same before
  the clients came, per connection.
- connections: clients from 127.0.0.1-4, held for 60 s with the heartbeat running;
  \`dropped\` counts connections that closed.
- storm: 5,000 clients connecting at once; the time until the last has joined its room.
- crossnode: two nodes on one \`redis-server\` (started by the bench on a free port):
  1,000 subscribers on node B, bursts of 200 messages published on node A; deliveries/s
  at the clients, median of 5 bursts after a warm-up. Socket.IO uses
  \`@socket.io/redis-adapter\`; nest-realtime its Redis engine (which numbers and keeps
  each room message, for recovery). Raw \`ws\` has no cross-node mode and sits out.

## What remains

- **50,000 connections**: a process on this machine may hold 20,000 file descriptors
  (\`ulimit -n\` is 20000 and the hard limit cannot be raised here), so one server cannot
  hold 50,000 sockets whatever the code does. The scenario holds 19,000 (one descriptor
  per socket, plus the server's own) with none dropped; the figure at 50,000 needs a
  machine that allows it.
`;

/** RESULTS.md: every figure for every peer, and our ratio to each peer. */
export function markdown(run: Run): string {
  const lines = [
    '# Benchmark results',
    '',
    `Last run ${run.date} on ${run.cores} cores (${run.cpus}), Node ${run.node}, by \`npm run bench\`.`,
    "Every figure of a table comes from the same run (its date is under its title); ratios are ours divided by the peer's.",
    'Targets (from the benchmark issue) are marked met or missed.',
    '',
  ];
  for (const [scenario, byPeer] of Object.entries(run.results)) {
    const keys = [...new Set(Object.values(byPeer).flatMap((f) => Object.keys(f)))];
    lines.push(`## ${scenario}`, '');
    const measured = run.measured?.[scenario as ScenarioName];
    if (measured) lines.push(`Measured ${measured}.`, '');
    lines.push(
      `| figure | ${[OURS, ...PEERS].join(' | ')} | ours / ws | ours / socketio | target |`,
    );
    lines.push(`| --- | ${[OURS, ...PEERS].map(() => '---:').join(' | ')} | ---: | ---: | --- |`);
    for (const key of keys) {
      const ours = byPeer[OURS]?.[key];
      const ratio = (peer: string) => {
        const theirs = byPeer[peer]?.[key];
        return ours === undefined || !theirs ? undefined : ours / theirs;
      };
      const target = TARGETS[`${scenario}.${key}`];
      const floor = FLOORS[`${scenario}.${key}`];
      const verdicts = target
        ? Object.entries(target.vs).map(([peer, goal]) => {
            const r = ratio(peer);
            const met = r !== undefined && (target.better === 'higher' ? r >= goal! : r <= goal!);
            return `${target.better === 'higher' ? '>=' : '<='} ${goal} x ${peer}: ${met ? 'met' : 'missed'}`;
          })
        : [];
      if (floor !== undefined) {
        const met = ours !== undefined && ours >= floor;
        verdicts.push(
          `>= ${floor.toLocaleString('en-US')} for ours: ${met ? 'met' : 'missed (see below)'}`,
        );
      }
      lines.push(
        `| ${key} | ${[OURS, ...PEERS].map((p) => format(byPeer[p]?.[key])).join(' | ')} | ${format(ratio('ws'))} | ${format(ratio('socketio'))} | ${verdicts.join('; ')} |`,
      );
    }
    lines.push('');
  }
  lines.push('![fan-out and latency per peer](chart.svg)', '', NOTES);
  return lines.join('\n');
}

/** One SVG: fan-out deliveries/s and p99 latency at the sustainable rate, per peer. */
export function chart(run: Run): string {
  const peers = [OURS, ...PEERS];
  const panels = [
    {
      title: 'fan-out: deliveries/s (higher is better)',
      values: peers.map((p) => run.results.fanout?.[p]?.deliveriesPerSecond ?? 0),
    },
    {
      title: 'latency p99 at 20 publishes/s, ms (lower is better)',
      values: peers.map((p) => run.results.latency?.[p]?.p99At20 ?? 0),
    },
  ];
  const colors = ['#2b7a4b', '#4a6fa5', '#b5651d'];
  const width = 360;
  const height = 220;
  const parts = panels.map((panel, index) => {
    const max = Math.max(...panel.values, 1);
    const x0 = index * (width + 40) + 20;
    const bars = panel.values.map((value, i) => {
      const h = (value / max) * 140;
      const x = x0 + 30 + i * 110;
      return [
        `<rect x="${x}" y="${180 - h}" width="70" height="${h}" fill="${colors[i]}"/>`,
        `<text x="${x + 35}" y="${174 - h}" text-anchor="middle" font-size="11">${format(value)}</text>`,
        `<text x="${x + 35}" y="196" text-anchor="middle" font-size="11">${peers[i]}</text>`,
      ].join('');
    });
    return `<text x="${x0}" y="20" font-size="13" font-weight="bold">${panel.title}</text><line x1="${x0 + 20}" y1="180" x2="${x0 + width}" y2="180" stroke="#888"/>${bars.join('')}`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * (width + 40) + 20}" height="${height}" font-family="sans-serif">${parts.join('')}</svg>\n`;
}
