import { OutboundFrame } from '../../protocol/index.js';
import type { NodeLink } from '../node-link.js';
import type { JoinOptions, RoomJoin } from './room-joins.js';

/** How long a request to the node of another node's connection may take, in ms. */
const NODE_TIMEOUT = 5_000;

/**
 * What this node does when another node's hub orders it (each on its own connections).
 *
 * @example
 * ```ts
 * orders.obey({ disconnect: (id, reason) => connections.get(id)?.close(4500, reason), ... });
 * ```
 */
export interface LocalOrders {
  disconnect(connectionId: string, reason: string): void;
  disconnectUser(userId: string, reason: string): void;
  /** The room was deleted: this node's members leave it. */
  roomDeleted(room: string): Promise<void>;
  join(connectionId: string, room: string, options: JoinOptions): Promise<RoomJoin>;
  leave(connectionId: string, room: string): Promise<boolean>;
  send(connectionId: string, frame: OutboundFrame): void;
}

/**
 * The hub's orders between nodes, both ways: what it asks of the node that holds a
 * connection (or of every node), and, from {@link obey}, what it does when another
 * node's hub asks. Each order's name is written here only.
 *
 * @example
 * ```ts
 * const orders = new NodeOrders(link);
 * orders.obey({ disconnect: (id, reason) => ..., ... });
 * await orders.join(node, connectionId, 'lobby', {});
 * ```
 */
export class NodeOrders {
  constructor(private readonly link: NodeLink) {}

  /** Runs the orders of other nodes' hubs on this node. */
  obey(local: LocalOrders): void {
    const link = this.link;
    link.handle('disconnect', ({ id, reason }: { id: string; reason: string }) =>
      local.disconnect(id, reason),
    );
    link.handle('disconnect-user', ({ userId, reason }: { userId: string; reason: string }) =>
      local.disconnectUser(userId, reason),
    );
    link.handle('room-deleted', ({ room }: { room: string }) => local.roomDeleted(room));
    link.handle(
      'join',
      ({ id, room, options }: { id: string; room: string; options: JoinOptions }) =>
        local.join(id, room, options),
    );
    link.handle('send', ({ to, frame }: { to: string; frame: string }) =>
      local.send(to, new OutboundFrame(Buffer.from(frame))),
    );
    link.handle('leave', ({ id, room }: { id: string; room: string }) => local.leave(id, room));
  }

  disconnect(node: string, connectionId: string, reason: string): void {
    this.link.tell(node, 'disconnect', { id: connectionId, reason });
  }

  /** On every other node. */
  disconnectUser(userId: string, reason: string): void {
    this.link.tell(undefined, 'disconnect-user', { userId, reason });
  }

  /** On every other node. */
  roomDeleted(room: string): void {
    this.link.tell(undefined, 'room-deleted', { room });
  }

  async join(
    node: string,
    connectionId: string,
    room: string,
    options: JoinOptions,
  ): Promise<RoomJoin> {
    const payload = { id: connectionId, room, options };
    return (await this.link.ask(node, 'join', payload, NODE_TIMEOUT)) as RoomJoin;
  }

  async leave(node: string, connectionId: string, room: string): Promise<boolean> {
    const payload = { id: connectionId, room };
    return (await this.link.ask(node, 'leave', payload, NODE_TIMEOUT)) as boolean;
  }

  send(node: string, connectionId: string, frame: OutboundFrame): void {
    this.link.tell(node, 'send', { to: connectionId, frame: frame.text });
  }
}
