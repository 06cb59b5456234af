import type { EnginePublication } from '../broker.interface.js';
import type { EngineHandler } from '../realtime-engine.interface.js';
import { MemoryPresenceStore } from './memory.presence-store.js';
import { MemoryRoomStore } from './memory.room-store.js';
import { MemoryStreams } from './memory-streams.js';

/**
 * One node attached to a store: its id, its handler and the channels it listens to.
 *
 * @example
 * ```ts
 * const node: MemoryNode = store.attach('k3Jx9a_-', handler);
 * node.channels.add('r:lobby');
 * ```
 */
export interface MemoryNode {
  readonly id: string;
  readonly handler: EngineHandler;
  readonly channels: Set<string>;
}

/** Stores shared by name within this process, while some engine uses them. */
const named = new Map<string, MemoryStore>();

/**
 * What the memory engine keeps: rooms, presence and room streams, and the nodes
 * (engines) attached to it. A store of its own serves one app; a store shared by
 * name lets several apps of one process act as the nodes of one cluster. The store
 * lives while an engine is attached, and is cleared when the last one goes.
 *
 * @example
 * ```ts
 * const store = MemoryStore.open('demo'); // the same store for every engine naming 'demo'
 * ```
 */
export class MemoryStore {
  readonly rooms = new MemoryRoomStore();
  readonly presence = new MemoryPresenceStore();
  readonly streams = new MemoryStreams();
  private readonly nodes = new Set<MemoryNode>();
  /** Trims aged history and forgets idle streams, once per store. */
  private sweeper: NodeJS.Timeout | undefined;

  private constructor(private readonly name: string | undefined) {}

  /** The store shared under `name` in this process, or a new one of its own. */
  static open(name?: string): MemoryStore {
    if (name === undefined) return new MemoryStore(undefined);
    let store = named.get(name);
    if (!store) named.set(name, (store = new MemoryStore(name)));
    return store;
  }

  attach(id: string, handler: EngineHandler): MemoryNode {
    const node: MemoryNode = { id, handler, channels: new Set(['*']) };
    this.nodes.add(node);
    this.sweeper ??= setInterval(() => this.streams.sweep(Date.now()), 1_000).unref();
    return node;
  }

  detach(node: MemoryNode): void {
    if (!this.nodes.delete(node) || this.nodes.size > 0) return;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.rooms.clear();
    this.presence.clear();
    this.streams.clear();
    if (this.name !== undefined && named.get(this.name) === this) named.delete(this.name);
  }

  /**
   * Delivers synchronously: to `from` itself (its hub filters by channel), and to
   * every other node that listens to one of the publication's channels.
   */
  deliver(from: MemoryNode | undefined, publication: EnginePublication): void {
    if (from) from.handler.deliver(publication);
    if (this.nodes.size < 2) return;
    for (const node of this.nodes) {
      if (node !== from && publication.channels.some((channel) => node.channels.has(channel))) {
        node.handler.deliver(publication);
      }
    }
  }

  /** Hands an order synchronously to the node `to` (by id), or to every node. */
  control(to: string | undefined, order: Buffer): void {
    for (const node of this.nodes) {
      if (to === undefined || node.id === to) node.handler.control(order);
    }
  }
}
