import type { ControlHandler, NodeController } from '../node-controller.interface.js';
import type { RedisConnection } from './redis-connection.js';

/**
 * The node controller of the Redis engine: each node subscribes to a channel of its
 * own (`<prefix>node:<id>`) and to one of all nodes (`<prefix>nodes`), apart from the
 * broker's channels, on the same clients (so that an order keeps its place among the
 * node's publications). An order travels as its bytes, with no header.
 *
 * @example
 * ```ts
 * await engine.controller.send(nodeId, Buffer.from('{"k":"disconnect"}'));
 * ```
 */
export class RedisController implements NodeController {
  private handler: ControlHandler | undefined;
  private readonly all: string;
  private own: string | undefined;

  constructor(private readonly connection: RedisConnection) {
    this.all = connection.key('nodes', '');
  }

  /** Listens to the orders to `nodeId` and to all nodes, for `handler`. */
  async attach(nodeId: string, handler: ControlHandler): Promise<void> {
    this.handler = handler;
    this.own = this.nodeKey(nodeId);
    await this.connection.subscribe(this.own);
    await this.connection.subscribe(this.all);
  }

  /** Hands over nothing more. */
  detach(): void {
    this.handler = undefined;
    this.own = undefined;
  }

  /** Whether a channel key is one this node hears orders on. */
  owns(channel: string): boolean {
    return channel === this.all || channel === this.own;
  }

  receive(order: Buffer): void {
    this.handler?.control(order);
  }

  async send(node: string | undefined, order: Buffer): Promise<void> {
    await this.connection.publish(node === undefined ? this.all : this.nodeKey(node), order);
  }

  private nodeKey(nodeId: string): string {
    return this.connection.key('node', nodeId);
  }
}
