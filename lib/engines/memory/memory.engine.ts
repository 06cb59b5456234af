import type { EngineHandler, RealtimeEngine } from '../realtime-engine.interface.js';
import { MemoryBroker } from './memory.broker.js';
import { MemoryController } from './memory.controller.js';
import type { MemoryPresenceStore } from './memory.presence-store.js';
import type { MemoryRoomStore } from './memory.room-store.js';
import { MemoryStore, type MemoryNode } from './memory-store.js';

/**
 * The embedded engine: everything in this process, nothing to install. Its broker
 * delivers synchronously, inside `publish`, so a message emitted by a handler has
 * reached every local socket's buffer when the handler returns.
 *
 * Each engine has a store of its own, unless it is given the name of a store to
 * share: then every app of this process that names the same store is a node of one
 * cluster (rooms, presence, history, messages and node orders in common), which is
 * how tests and demos run several nodes without Redis.
 *
 * @example
 * ```ts
 * RealtimeModule.forRoot({ engine: { type: 'memory' } }) // the default
 * RealtimeModule.forRoot({ engine: { type: 'memory', shared: 'demo' } }) // one of several apps
 * ```
 */
export class MemoryEngine implements RealtimeEngine {
  readonly broker: MemoryBroker;
  readonly rooms: MemoryRoomStore;
  readonly presence: MemoryPresenceStore;
  readonly controller: MemoryController;
  /** True for a store of its own: no other node can exist. */
  readonly standalone: boolean;

  private node: MemoryNode | undefined;
  private readonly store: MemoryStore;

  /** @param shared the name of a store shared within this process; none: a store of its own. */
  constructor(shared?: string) {
    this.store = MemoryStore.open(shared);
    this.standalone = shared === undefined;
    const node = () => this.node;
    this.broker = new MemoryBroker(this.store, node);
    this.controller = new MemoryController(this.store, node);
    this.rooms = this.store.rooms;
    this.presence = this.store.presence;
  }

  async start(nodeId: string, handler: EngineHandler): Promise<void> {
    if (this.node) this.store.detach(this.node);
    this.node = this.store.attach(nodeId, handler);
  }

  async close(): Promise<void> {
    if (!this.node) return;
    this.store.detach(this.node);
    this.node = undefined;
  }
}
