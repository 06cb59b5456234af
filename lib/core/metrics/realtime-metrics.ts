import { Inject, Injectable } from '@nestjs/common';
import { CloseCode } from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import type { ConnectionRegistry } from '../connection-registry.js';
import type { RealtimeConnection } from '../realtime-connection.js';
import { roomPattern } from '../room-pattern.js';
import {
  CounterFamily,
  GaugeFamily,
  HistogramFamily,
  OVERFLOW_LABEL,
  type AnyMetricFamily,
} from './metric-families.js';

/** Adds one series' value to a family being read. */
type Add = (values: readonly string[], value: number) => void;

/** A connection that ended without a close code (its socket was cut), as WebSocket names it. */
const ABNORMAL_CLOSURE = 1006;

/**
 * Why a handshake was refused, as `realtime_handshakes_refused_total` labels it.
 *
 * @example
 * ```ts
 * metrics.handshakeRefused('websocket', 'origin');
 * ```
 */
export type RefusalReason =
  | 'origin'
  | 'unauthenticated'
  | 'forbidden'
  | 'server_full'
  | 'user_limit'
  | 'unavailable'
  | 'invalid'
  | 'error';

/**
 * The refusal reason of an HTTP status a handshake was answered with.
 *
 * @example
 * ```ts
 * refusalReasonOf(401); // 'unauthenticated'
 * ```
 */
export function refusalReasonOf(status: number): RefusalReason {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 503) return 'unavailable';
  if (status >= 400 && status < 500) return 'invalid';
  return 'error';
}

/**
 * Every metric the library counts, named in one place (docs/observability.md lists
 * them). Counting is always on and costs a field increment or a cached cell per
 * event; with `metrics` set, an exporter reads these families when scraped. Labels
 * are bounded by design: transports, close codes, reasons, outcomes; a room name
 * only for rooms the app named in `metrics.roomLabels`, at most
 * `metrics.maxRoomSeries` of them.
 *
 * @example
 * ```ts
 * for (const family of moduleRef.get(RealtimeMetrics).families()) console.log(family.name);
 * ```
 */
@Injectable()
export class RealtimeMetrics {
  /** Counts of connections gone, by transport: live ones are read on the connections. */
  private readonly gone = new Map<string, GoneTraffic>();
  private registry: ConnectionRegistry | undefined;
  private readonly extraGauges: GaugeFamily[] = [];
  private nodeGauges: GaugeFamily[] = [];
  private lastCensus: Census | undefined;
  private readonly roomPatterns: readonly RegExp[];
  private readonly maxRoomSeries: number;
  /** The rooms given a series of their own (their label value), and those that matched past the cap. */
  private readonly labelledRooms = new Map<string, string>();

  readonly connectionsOpened = new CounterFamily(
    'realtime_connections_opened',
    'Connections accepted, by transport.',
    ['transport'],
  );
  readonly connectionsClosed = new CounterFamily(
    'realtime_connections_closed',
    'Connections closed, by transport and close code (the server’s, or the client’s when it closed first; 1006 when cut).',
    ['transport', 'code'],
  );
  readonly handshakesRefused = new CounterFamily(
    'realtime_handshakes_refused',
    'Connections refused before they opened, by transport and reason.',
    ['transport', 'reason'],
  );
  readonly roomJoins = new CounterFamily('realtime_room_joins', 'Room joins, by transport.', [
    'transport',
  ]);
  readonly roomLeaves = new CounterFamily(
    'realtime_room_leaves',
    'Room leaves, by transport and cause (leave, disconnect, delete).',
    ['transport', 'cause'],
  );
  readonly publishes = new CounterFamily(
    'realtime_publishes',
    'Messages published, by origin: the client transport that published, or server for the app’s own emits.',
    ['origin'],
  );
  readonly deliveries = new CounterFamily(
    'realtime_deliveries',
    'Published messages handed to connections of this node (live and replayed), by transport.',
    ['transport'],
    (add) => this.eachTraffic(add, 'delivered'),
  );
  readonly framesSent = new CounterFamily(
    'realtime_frames_sent',
    'Frames of every kind sent to clients (deliveries, replies, errors, pings), by transport.',
    ['transport'],
    (add) => this.eachTraffic(add, 'framesSent'),
  );
  readonly bytesSent = new CounterFamily(
    'realtime_bytes_sent',
    'Bytes of the frames sent (their JSON, before framing and compression), by transport.',
    ['transport'],
    (add) => this.eachTraffic(add, 'bytesSent'),
  );
  readonly framesDropped = new CounterFamily(
    'realtime_frames_dropped',
    'Frames not delivered or not read, by transport and reason (volatile_skipped, rate_limited, queue_full).',
    ['transport', 'reason'],
    (add) => this.eachTraffic(add, 'volatileSkipped', 'volatile_skipped'),
  );
  readonly slowConsumersCut = new CounterFamily(
    'realtime_slow_consumers_cut',
    'Connections closed because the client read too slowly (what they had waiting is dropped), by transport.',
    ['transport'],
  );
  readonly recoveries = new CounterFamily(
    'realtime_recoveries',
    'Joins with a position to resume from, by outcome (recovered, resync) and reason (ok, epoch_changed, too_old, ahead).',
    ['outcome', 'reason'],
  );
  readonly historyReads = new CounterFamily(
    'realtime_history_reads',
    'Reads of a room’s stream, by kind (join: every join reads its position and what it replays; api: hub.roomHistory).',
    ['kind'],
  );
  readonly acknowledged = new CounterFamily(
    'realtime_acknowledged_deliveries',
    'Acknowledged deliveries, by outcome (sent, acked, resent, undeliverable, refused).',
    ['outcome'],
  );
  readonly rpcCalls = new CounterFamily(
    'realtime_rpc_calls',
    'RPC calls, by direction (client_to_server, server_to_client) and outcome (ok, error, timeout, unknown_method).',
    ['direction', 'outcome'],
  );
  readonly rpcDuration = new HistogramFamily(
    'realtime_rpc_duration_seconds',
    'How long RPC calls took, from the call to its answer, by direction.',
    ['direction'],
  );
  readonly presenceDiffs = new CounterFamily(
    'realtime_presence_diffs',
    'Room presence diffs (rt:room-presence) published by this node.',
  );
  readonly pubsubLag = new HistogramFamily(
    'realtime_pubsub_lag_seconds',
    'From a room message’s publish on another node to its delivery here (the nodes’ clocks must agree).',
  );
  readonly nodeOrderRoundTrip = new HistogramFamily(
    'realtime_node_request_seconds',
    'Round trips of requests to other nodes (join, leave, call, ... of their connections), by kind and outcome (ok, error, unavailable).',
    ['kind', 'outcome'],
  );
  readonly roomPublishes = new CounterFamily(
    'realtime_room_publishes',
    'Messages published to the rooms named by metrics.roomLabels, by room.',
    ['room'],
  );

  constructor(@Inject(REALTIME_OPTIONS) options: ResolvedRealtimeOptions) {
    this.roomPatterns = (options.metrics?.roomLabels ?? []).map(roomPattern);
    this.maxRoomSeries = options.metrics?.maxRoomSeries ?? 0;
  }

  /**
   * @internal The hub hands over its connections (live traffic is read on them) and
   * tells whether its engine serves.
   */
  follow(registry: ConnectionRegistry, engineAvailable: () => boolean): void {
    this.registry = registry;
    this.nodeGauges = [
      new GaugeFamily(
        'realtime_connections',
        'Connections open on this node, by transport.',
        ['transport'],
        (add) => {
          // A transport seen once reads 0 when it has no connection left (rather than
          // vanish: an OpenTelemetry SDK would go on exporting its last value).
          for (const { labels } of this.connectionsOpened.read()) add([labels.transport!], 0);
          for (const [transport, { connections }] of this.census().byTransport) {
            add([transport], connections);
          }
        },
      ),
      new GaugeFamily('realtime_rooms', 'Rooms with members on this node.', [], (add) =>
        add([], this.census().rooms.size),
      ),
      new GaugeFamily(
        'realtime_room_memberships',
        'Room memberships of this node’s connections (a connection in 3 rooms counts 3).',
        [],
        (add) => add([], this.census().memberships),
      ),
      new GaugeFamily(
        'realtime_users_online',
        'Distinct users with a connection on this node.',
        [],
        (add) => add([], this.census().users),
      ),
      new GaugeFamily(
        'realtime_engine_available',
        'Whether the engine serves (1) or is in an outage (0).',
        [],
        (add) => add([], engineAvailable() ? 1 : 0),
      ),
      ...(this.roomPatterns.length === 0
        ? []
        : [
            new GaugeFamily(
              'realtime_room_members',
              'Members on this node of the rooms named by metrics.roomLabels, by room.',
              ['room'],
              (add) => {
                for (const label of this.labelledRooms.values()) add([label], 0); // as above
                for (const [room, members] of this.census().rooms) {
                  const label = this.roomLabel(room);
                  if (label !== undefined) add([label], members);
                }
              },
            ),
          ]),
    ];
  }

  /**
   * This node's connections counted in one pass, for every family a scrape reads: kept
   * for the rest of this turn of the event loop (a scrape reads its families in one),
   * and dropped when a connection goes (its traffic moves to `gone`: a census from
   * before would count it twice).
   */
  private census(): Census {
    if (this.lastCensus) return this.lastCensus;
    const byTransport = new Map<string, { connections: number; traffic: GoneTraffic }>();
    const rooms = new Map<string, number>();
    const users = new Set<string>();
    let memberships = 0;
    for (const connection of this.registry?.list() ?? []) {
      let entry = byTransport.get(connection.transport);
      if (!entry) {
        entry = { connections: 0, traffic: { ...EMPTY_TRAFFIC } };
        byTransport.set(connection.transport, entry);
      }
      entry.connections++;
      for (const key of TRAFFIC_KEYS) entry.traffic[key] += connection[key];
      memberships += connection.rooms.size;
      for (const room of connection.rooms) rooms.set(room, (rooms.get(room) ?? 0) + 1);
      if (connection.userId !== undefined) users.add(connection.userId);
    }
    const census = { byTransport, rooms, memberships, users: users.size };
    this.lastCensus = census;
    setImmediate(() => {
      if (this.lastCensus === census) this.lastCensus = undefined;
    });
    return census;
  }

  /** @internal A gauge read from a service (the hub, presence, WebRTC) at each scrape. */
  gauge(name: string, help: string, labelNames: readonly string[], read: (add: Add) => void): void {
    this.extraGauges.push(new GaugeFamily(name, help, labelNames, read));
  }

  /** Every family, counters first, then gauges, then histograms. */
  families(): AnyMetricFamily[] {
    return [
      this.connectionsOpened,
      this.connectionsClosed,
      this.handshakesRefused,
      this.roomJoins,
      this.roomLeaves,
      this.publishes,
      this.deliveries,
      this.framesSent,
      this.bytesSent,
      this.framesDropped,
      this.slowConsumersCut,
      this.recoveries,
      this.historyReads,
      this.acknowledged,
      this.rpcCalls,
      this.presenceDiffs,
      ...(this.roomPatterns.length > 0 ? [this.roomPublishes] : []),
      ...this.nodeGauges,
      ...this.extraGauges,
      this.rpcDuration,
      this.pubsubLag,
      this.nodeOrderRoundTrip,
    ];
  }

  /** @internal A handshake was refused. */
  handshakeRefused(transport: string, reason: RefusalReason): void {
    this.handshakesRefused.inc(transport, reason);
  }

  /** @internal A connection was accepted. */
  opened(connection: RealtimeConnection): void {
    this.connectionsOpened.inc(connection.transport);
  }

  /**
   * @internal A connection left the registry: its counts join its transport's totals
   * in the same turn, so that no counter is ever read lower than before.
   */
  closed(connection: RealtimeConnection): void {
    const { transport } = connection;
    const code = connection.closeCode ?? ABNORMAL_CLOSURE;
    this.connectionsClosed.inc(transport, closeCodeLabel(code));
    if (code === CloseCode.SlowConsumer) this.slowConsumersCut.inc(transport);
    this.lastCensus = undefined;
    let gone = this.gone.get(transport);
    if (!gone) this.gone.set(transport, (gone = { ...EMPTY_TRAFFIC }));
    for (const key of TRAFFIC_KEYS) gone[key] += connection[key];
  }

  /** @internal The label of a room for room-labelled families, or undefined for a room not asked for. */
  roomLabel(room: string): string | undefined {
    if (this.roomPatterns.length === 0) return undefined;
    const known = this.labelledRooms.get(room);
    if (known !== undefined) return known;
    if (!this.roomPatterns.some((pattern) => pattern.test(room))) return undefined;
    // Past the cap, matching rooms share one series; the cache itself stays bounded.
    const label = this.labelledRooms.size < this.maxRoomSeries ? room : OVERFLOW_LABEL;
    if (label !== OVERFLOW_LABEL) this.labelledRooms.set(room, label);
    return label;
  }

  /** @internal A message was published to a room. */
  roomPublished(room: string): void {
    const label = this.roomLabel(room);
    if (label !== undefined) this.roomPublishes.inc(label);
  }

  private eachTraffic(add: Add, key: TrafficKey, ...labels: string[]): void {
    for (const [transport, gone] of this.gone) add([transport, ...labels], gone[key]);
    for (const [transport, { traffic }] of this.census().byTransport) {
      add([transport, ...labels], traffic[key]);
    }
  }
}

/** This node's connections, counted once for a scrape. */
interface Census {
  readonly byTransport: ReadonlyMap<string, { connections: number; traffic: GoneTraffic }>;
  readonly rooms: ReadonlyMap<string, number>;
  readonly memberships: number;
  readonly users: number;
}

const TRAFFIC_KEYS = ['delivered', 'framesSent', 'bytesSent', 'volatileSkipped'] as const;
type TrafficKey = (typeof TRAFFIC_KEYS)[number];
type GoneTraffic = Record<TrafficKey, number>;
const EMPTY_TRAFFIC: GoneTraffic = {
  delivered: 0,
  framesSent: 0,
  bytesSent: 0,
  volatileSkipped: 0,
};

/**
 * The `code` label of a closed connection: the codes of RFC 6455 and of the library's
 * table as they are, any other (a client may close with any of 3000-4999) as `other`,
 * so that no client can grow the family.
 */
function closeCodeLabel(code: number): string {
  return (code >= 1000 && code <= 1015) || LIBRARY_CLOSE_CODES.has(code) ? String(code) : 'other';
}

const LIBRARY_CLOSE_CODES: ReadonlySet<number> = new Set(Object.values(CloseCode));
