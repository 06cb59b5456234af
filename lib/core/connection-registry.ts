import type { OutboundFrame } from '../protocol/index.js';
import { userChannel } from './channels.js';
import type { RealtimeConnection } from './realtime-connection.js';

/**
 * Whatever can be handed a channel's frames on this node: a connection, or a
 * server-side watcher.
 */
export interface ChannelSubscriber {
  readonly id: string;
  send(frame: OutboundFrame): void;
}

/**
 * This node's connections and, per channel, the local connections subscribed to it.
 * It is the local half of fan-out: the engine says which channels a publication is
 * for, this says which sockets those are here. It knows nothing of transports.
 *
 * @example
 * ```ts
 * const tabs = hub.connections.countByUser('u1');
 * for (const connection of hub.connections.list()) console.log(connection.id, connection.transport);
 * ```
 */
export class ConnectionRegistry {
  private readonly byId = new Map<string, RealtimeConnection>();
  /**
   * Per channel, its one local subscriber, or a Set once it has several: most channels
   * (a user's, with one tab) have one, and a Set of one costs a table per channel.
   */
  private readonly channels = new Map<string, ChannelSubscriber | Set<ChannelSubscriber>>();

  /** Number of connections on this node. */
  count(): number {
    return this.byId.size;
  }

  /** Number of this user's connections on this node. */
  countByUser(userId: string): number {
    return this.subscriberCount(userChannel(userId));
  }

  get(id: string): RealtimeConnection | undefined {
    return this.byId.get(id);
  }

  has(connection: RealtimeConnection): boolean {
    return this.byId.get(connection.id) === connection;
  }

  /** Every connection on this node. */
  list(): IterableIterator<RealtimeConnection> {
    return this.byId.values();
  }

  /** This user's connections on this node. */
  listByUser(userId: string): RealtimeConnection[] {
    // A user's channel is subscribed by the hub with that user's connections only.
    return [...(this.subscribers(userChannel(userId)) ?? [])] as RealtimeConnection[];
  }

  /** @internal Registers a connection. */
  add(connection: RealtimeConnection): void {
    this.byId.set(connection.id, connection);
  }

  /** @internal Forgets a connection. Its channel subscriptions are the caller's to drop. */
  remove(connection: RealtimeConnection): boolean {
    return this.has(connection) && this.byId.delete(connection.id);
  }

  /** @internal The local subscribers of a channel, if any. */
  subscribers(channel: string): Iterable<ChannelSubscriber> | undefined {
    const entry = this.channels.get(channel);
    return entry === undefined || entry instanceof Set ? entry : [entry];
  }

  /** @internal How many local subscribers a channel has. */
  subscriberCount(channel: string): number {
    const entry = this.channels.get(channel);
    return entry === undefined ? 0 : entry instanceof Set ? entry.size : 1;
  }

  /** @internal Adds a local subscriber; true if it is the channel's first on this node. */
  subscribe(channel: string, subscriber: ChannelSubscriber): boolean {
    const entry = this.channels.get(channel);
    if (entry === undefined) {
      this.channels.set(channel, subscriber);
      return true;
    }
    if (entry instanceof Set) entry.add(subscriber);
    else if (entry !== subscriber) this.channels.set(channel, new Set([entry, subscriber]));
    return false;
  }

  /** @internal Removes a local subscriber; true if it was the channel's last on this node. */
  unsubscribe(channel: string, subscriber: ChannelSubscriber): boolean {
    const entry = this.channels.get(channel);
    if (entry === subscriber) {
      this.channels.delete(channel);
      return true;
    }
    if (!(entry instanceof Set) || !entry.delete(subscriber)) return false;
    // Down to one: kept as that one, as if it had come alone.
    if (entry.size === 1) this.channels.set(channel, entry.values().next().value!);
    return false;
  }
}
