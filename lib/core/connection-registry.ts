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
  private readonly channels = new Map<string, Set<ChannelSubscriber>>();

  /** Number of connections on this node. */
  count(): number {
    return this.byId.size;
  }

  /** Number of this user's connections on this node. */
  countByUser(userId: string): number {
    return this.channels.get(userChannel(userId))?.size ?? 0;
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
    return [...(this.channels.get(userChannel(userId)) ?? [])] as RealtimeConnection[];
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
  subscribers(channel: string): ReadonlySet<ChannelSubscriber> | undefined {
    return this.channels.get(channel);
  }

  /** @internal Adds a local subscriber; true if it is the channel's first on this node. */
  subscribe(channel: string, subscriber: ChannelSubscriber): boolean {
    const set = this.channels.get(channel);
    if (set) {
      set.add(subscriber);
      return false;
    }
    this.channels.set(channel, new Set([subscriber]));
    return true;
  }

  /** @internal Removes a local subscriber; true if it was the channel's last on this node. */
  unsubscribe(channel: string, subscriber: ChannelSubscriber): boolean {
    const set = this.channels.get(channel);
    if (!set?.delete(subscriber) || set.size > 0) return false;
    this.channels.delete(channel);
    return true;
  }
}
