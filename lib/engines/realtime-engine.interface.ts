import type { StreamPosition } from '../protocol/stream-position.js';
import type { Broker, BrokerHandler } from './broker.interface.js';
import type { ControlHandler, NodeController } from './node-controller.interface.js';
import type { PresenceStore } from './presence-store.interface.js';
import type { RoomStore } from './room-store.interface.js';

export type { StreamPosition };

/**
 * The engine: the only seam between one process and many, composed of four parts,
 * each a small contract of its own (read each file for its ordering and atomicity
 * rules):
 * - `broker` ({@link Broker}): publish/subscribe between nodes, by channel, and the
 *   room streams (numbered messages, bounded history);
 * - `rooms` ({@link RoomStore}): room records and their members;
 * - `presence` ({@link PresenceStore}): each user's status and live connections;
 * - `controller` ({@link NodeController}): orders between the nodes' hubs.
 *
 * A node (one running app) owns its connections; the engine connects nodes. It
 * never sees a connection object or a socket, only ids and encoded frames, and
 * pushes what it receives back through the narrow {@link EngineHandler}. The memory
 * engine is the default, the Redis engine runs many nodes; an engine of your own
 * (`engine: { type: 'custom', engine }`) must pass the same conformance suite
 * (`describeEngineConformance` from `nest-realtime/testing`). See docs/engines.md.
 *
 * The parts may be used only between `start` and `close`.
 *
 * @example
 * ```ts
 * class MyEngine implements RealtimeEngine {
 *   readonly broker = new MyBroker();
 *   readonly rooms = new MyRoomStore();
 *   readonly presence = new MyPresenceStore();
 *   readonly controller = new MyController();
 *   async start(nodeId: string, handler: EngineHandler) { ... }
 *   async close() { ... }
 * }
 * RealtimeModule.forRoot({ engine: { type: 'custom', engine: new MyEngine() } });
 * ```
 */
export interface RealtimeEngine {
  readonly broker: Broker;
  readonly rooms: RoomStore;
  readonly presence: PresenceStore;
  readonly controller: NodeController;

  /**
   * Starts the engine for the node `nodeId`: from then on its broker calls
   * `handler.deliver` (and `lost`), and its controller calls `handler.control` for
   * the orders to `nodeId` and to all nodes.
   */
  start(nodeId: string, handler: EngineHandler): Promise<void>;

  /** Stops delivering and releases every resource. Safe to call twice. */
  close(): Promise<void>;

  /**
   * Whether the engine can serve now (an engine on a server reports its outages);
   * absent means always.
   */
  readonly available?: boolean;

  /**
   * Resolves once the server behind the engine answers (Redis: a PING), within
   * `timeout` ms, and rejects otherwise; the health indicator calls it
   * (`nest-realtime/health`). Absent means the engine is up while `available` says so.
   */
  ping?(timeout: number): Promise<void>;

  /**
   * True when no other node can share this engine (a memory engine of its own): a
   * connection id that is not open here is closed, with no node to ask.
   */
  readonly standalone?: boolean;
}

/**
 * The injection token of the engine, sharing the interface's name.
 *
 * @example
 * ```ts
 * constructor(@Inject(RealtimeEngine) private readonly engine: RealtimeEngine) {}
 * ```
 */
export const RealtimeEngine = Symbol('realtime:engine');

/**
 * What an engine calls back into: the broker's handler and the controller's.
 *
 * @example
 * ```ts
 * await engine.start('k3Jx9a_-', {
 *   deliver: (publication) => console.log(publication.channels),
 *   control: (order) => console.log(order.toString()),
 * });
 * ```
 */
export interface EngineHandler extends BrokerHandler, ControlHandler {}
