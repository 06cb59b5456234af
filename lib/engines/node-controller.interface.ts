/**
 * The node controller: orders between the nodes' hubs (close this connection, join
 * it to a room, an answer to a request), on a line of their own, apart from the
 * broker's channels: each node hears the orders sent to its id and those sent to
 * all nodes, and pushes them to the {@link ControlHandler} the engine was started
 * with. The controller carries bytes; what they mean is the hub's business.
 *
 * Rules every implementation keeps:
 * - Orders from one node to another arrive in the order they were sent, and in
 *   order with that node's broker publications (an order sent after a publication
 *   never overtakes it).
 * - An order to all nodes reaches every node, this one included; an order to one
 *   node reaches that node only (this one too, by its own id).
 * - An order to a node that is not there is dropped; the sender finds out by
 *   timing out, never by an error.
 * - Promises reject only when the controller could not send.
 *
 * @example
 * ```ts
 * await engine.controller.send('k3Jx9a_-', Buffer.from('{"k":"disconnect"}'));
 * await engine.controller.send(undefined, order); // to every node
 * ```
 */
export interface NodeController {
  /** Sends an order to one node, by id, or to every node (`undefined`). */
  send(node: string | undefined, order: Buffer): Promise<void>;
}

/**
 * What a controller calls back into: the hub's order handling. Must not throw.
 *
 * @example
 * ```ts
 * const handler: ControlHandler = { control: (order) => console.log(order.toString()) };
 * ```
 */
export interface ControlHandler {
  /** An order sent to this node, or to all nodes. */
  control(order: Buffer): void;
}
