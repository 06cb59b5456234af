import type { NodeController } from '../node-controller.interface.js';
import type { MemoryNode, MemoryStore } from './memory-store.js';

/**
 * The node controller of the memory engine: orders go synchronously to the nodes
 * attached to the same store (several apps of one process sharing a named store).
 *
 * @example
 * ```ts
 * await engine.controller.send(undefined, Buffer.from('{"k":"disconnect-user"}'));
 * ```
 */
export class MemoryController implements NodeController {
  /** @param node this engine's node in the store, once started. */
  constructor(
    private readonly store: MemoryStore,
    private readonly node: () => MemoryNode | undefined,
  ) {}

  async send(node: string | undefined, order: Buffer): Promise<void> {
    // A closed engine sends nothing, as its broker publishes nothing.
    if (this.node()) this.store.control(node, order);
  }
}
