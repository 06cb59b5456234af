import type { RateLimitState } from '../../core/limits/rate-limiter.js';
import type { RealtimeMetrics } from '../../core/metrics/realtime-metrics.js';
import type { RealtimeConnection } from '../../core/realtime-connection.js';
import type { RealtimeHub } from '../../core/realtime-hub.js';

/**
 * Connections, rooms and users a node lists at most in one snapshot (the counts are whole).
 *
 * @example
 * ```ts
 * snapshot.connections.length <= SNAPSHOT_LIMIT; // true
 * ```
 */
export const SNAPSHOT_LIMIT = 200;
/** A connection's rooms listed at most (its `roomCount` is whole). */
const ROOMS_PER_CONNECTION = 20;

/**
 * One connection as the inspector shows it.
 *
 * @example
 * ```ts
 * const slowest: InspectedConnection = snapshot.connections[0];
 * ```
 */
export interface InspectedConnection {
  readonly id: string;
  readonly node: string;
  readonly transport: string;
  readonly userId: string | null;
  /** ms since the epoch. */
  readonly openedAt: number;
  /** Its first rooms (at most 20), and how many it is in. */
  readonly rooms: readonly string[];
  readonly roomCount: number;
  /** Bytes waiting to be written to it. */
  readonly buffered: number;
  readonly congested: boolean;
  readonly rateLimit: RateLimitState | null;
  readonly delivered: number;
  readonly framesSent: number;
  readonly bytesSent: number;
}

/**
 * A node's load, as the inspector shows it. Totals are counters: the page reads rates
 * off two snapshots.
 *
 * @example
 * ```ts
 * const { id, connections, rss } = snapshot.node;
 * ```
 */
export interface InspectedNode {
  readonly id: string;
  /** When the snapshot was taken, ms since the epoch. */
  readonly at: number;
  /** Seconds the process has run. */
  readonly uptime: number;
  readonly rss: number;
  readonly heapUsed: number;
  /** CPU time used since the node's previous snapshot, as a share of one core. */
  readonly cpu: number;
  readonly engineAvailable: boolean;
  readonly connections: number;
  readonly byTransport: Readonly<Record<string, number>>;
  /** Rooms with members on this node, and distinct users connected to it. */
  readonly rooms: number;
  readonly users: number;
  readonly published: number;
  readonly delivered: number;
  readonly bytesSent: number;
}

/**
 * What one node reports of itself: its load, and its connections, rooms and users
 * matching the filter (the busiest first, at most {@link SNAPSHOT_LIMIT} of each).
 *
 * @example
 * ```ts
 * const snapshot: NodeSnapshot = nodeSnapshot(hub, metrics, '', cpu);
 * ```
 */
export interface NodeSnapshot {
  readonly node: InspectedNode;
  readonly connections: readonly InspectedConnection[];
  /** How many connections matched the filter (listed or not). */
  readonly connectionsMatched: number;
  /** Rooms with members here, by local member count. */
  readonly rooms: readonly { readonly name: string; readonly members: number }[];
  readonly users: readonly { readonly userId: string; readonly connections: number }[];
}

/**
 * The share of one core a process used between two calls (the first call measures
 * from the start of the process).
 *
 * @example
 * ```ts
 * const cpu = new CpuMeter();
 * cpu.sample(); // 0.12
 * ```
 */
export class CpuMeter {
  /** The process's start: a first sample is the average since then. */
  private last = { usage: { user: 0, system: 0 }, at: 0 };

  sample(): number {
    const usage = process.cpuUsage();
    const at = performance.now();
    const used = usage.user + usage.system - this.last.usage.user - this.last.usage.system;
    const elapsed = (at - this.last.at) * 1_000; // µs, as cpuUsage
    this.last = { usage, at };
    return elapsed > 0 ? used / elapsed : 0;
  }
}

/**
 * This node's snapshot, filtered by `query` (a substring of ids, user ids and room names).
 *
 * @example
 * ```ts
 * const mine = nodeSnapshot(hub, metrics, 'alice', new CpuMeter().sample());
 * ```
 */
export function nodeSnapshot(
  hub: RealtimeHub,
  metrics: RealtimeMetrics,
  query: string,
  cpu: number,
): NodeSnapshot {
  const byTransport: Record<string, number> = {};
  const rooms = new Map<string, number>();
  const users = new Map<string, number>();
  const matched: RealtimeConnection[] = [];
  const matches = (text: string | undefined) => query === '' || (text ?? '').includes(query);
  for (const connection of hub.connections.list()) {
    byTransport[connection.transport] = (byTransport[connection.transport] ?? 0) + 1;
    for (const room of connection.rooms) rooms.set(room, (rooms.get(room) ?? 0) + 1);
    const { userId } = connection;
    if (userId !== undefined) users.set(userId, (users.get(userId) ?? 0) + 1);
    if (matches(connection.id) || matches(userId)) matched.push(connection);
  }
  // The busiest first: most bytes waiting, then the oldest.
  matched.sort((a, b) => b.buffered - a.buffered || a.openedAt - b.openedAt);
  const memory = process.memoryUsage();
  return {
    node: {
      id: hub.nodeId,
      at: Date.now(),
      uptime: process.uptime(),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      cpu,
      engineAvailable: hub.engineAvailable,
      connections: hub.connections.count(),
      byTransport,
      rooms: rooms.size,
      users: users.size,
      published: total(metrics.publishes.read()),
      delivered: total(metrics.deliveries.read()),
      bytesSent: total(metrics.bytesSent.read()),
    },
    connections: matched.slice(0, SNAPSHOT_LIMIT).map((connection) => inspected(hub, connection)),
    connectionsMatched: matched.length,
    rooms: top(rooms, matches).map(([name, members]) => ({ name, members })),
    users: top(users, matches).map(([userId, connections]) => ({ userId, connections })),
  };
}

function inspected(hub: RealtimeHub, connection: RealtimeConnection): InspectedConnection {
  const { traffic } = connection;
  const rooms = [...connection.rooms];
  return {
    id: connection.id,
    node: hub.nodeId,
    transport: connection.transport,
    userId: connection.userId ?? null,
    openedAt: connection.openedAt,
    rooms: rooms.slice(0, ROOMS_PER_CONNECTION),
    roomCount: rooms.length,
    buffered: connection.buffered,
    congested: connection.congested,
    rateLimit: connection.rateLimit ?? null,
    delivered: traffic.delivered,
    framesSent: traffic.framesSent,
    bytesSent: traffic.bytesSent,
  };
}

/** The entries whose key matches, the largest counts first, at most {@link SNAPSHOT_LIMIT}. */
function top(counts: Map<string, number>, matches: (text: string) => boolean): [string, number][] {
  return [...counts]
    .filter(([key]) => matches(key))
    .toSorted((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, SNAPSHOT_LIMIT);
}

function total(samples: readonly { value: number }[]): number {
  let sum = 0;
  for (const { value } of samples) sum += value;
  return sum;
}
