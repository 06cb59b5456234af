import { Logger } from '@nestjs/common';
import type { Broker, EnginePublication } from '../../engines/broker.interface.js';
import type { StreamPosition } from '../../engines/realtime-engine.interface.js';
import { BuiltinEvent, encodeFrame, OutboundFrame } from '../../protocol/index.js';
import { BROADCAST_CHANNEL } from '../channels.js';
import type { ChannelSubscriber, ConnectionRegistry } from '../connection-registry.js';
import type { RealtimeConnection } from '../realtime-connection.js';
import { forgetReplay } from './room-joins.js';
import { EngineUnavailableError } from '../../engines/engine-unavailable.error.js';
import type { RealtimeMetrics } from '../metrics/realtime-metrics.js';
import { SpanKind, type RealtimeTracing } from '../tracing/realtime-tracing.js';

const NO_RECIPIENTS: readonly ChannelSubscriber[] = [];

/**
 * This node's side of the broker: which local subscribers each channel has (the first
 * one subscribes the node, the last one unsubscribes it), and the delivery of what the
 * broker hands over to them, the same bytes to each.
 *
 * @example
 * ```ts
 * await fanOut.subscribe(roomChannel('lobby'), connection, 'lobby');
 * fanOut.deliver(publication); // called by the engine
 * ```
 */
export class LocalFanOut {
  /**
   * Engine subscriptions of this node still in flight, by channel: the channel's later
   * subscribers wait for it too. A settled one is not kept (a node has one per user).
   */
  private readonly subscriptions = new Map<string, Promise<void>>();
  private readonly logger = new Logger('RealtimeHub');

  constructor(
    private readonly connections: ConnectionRegistry,
    private readonly broker: Broker,
    private readonly nodeId: string,
    private readonly metrics: RealtimeMetrics,
    private readonly tracing: RealtimeTracing,
  ) {}

  /** Local fan-out of a publication, called by the engine. */
  deliver(publication: EnginePublication): void {
    const { origin, position } = publication;
    if (origin !== undefined && origin.node !== this.nodeId && position !== undefined) {
      const lag = performance.timeOrigin + performance.now() - origin.at;
      this.metrics.pubsubLag.observe(Math.max(0, lag) / 1_000);
    }
    if (origin?.trace === undefined) {
      this.fanOut(publication);
      return;
    }
    // A traced publish: this node's delivery is a span of its trace.
    const span = this.tracing.start(
      'realtime.deliver',
      SpanKind.Consumer,
      {
        'messaging.system': 'nest-realtime',
        'messaging.operation.type': 'receive',
        'messaging.destination.name': position?.room ?? publication.channels.join(' '),
        'realtime.node': this.nodeId,
        'realtime.origin_node': origin.node,
      },
      origin.trace,
    );
    const recipients = this.fanOut(publication);
    span?.set('realtime.recipients', recipients);
    span?.end();
  }

  /** Hands the publication to this node's recipients; returns how many got it. */
  private fanOut(publication: EnginePublication): number {
    const { channels, frame: bytes, except, position, volatile, facts } = publication;
    let recipients = 0;
    // One value for every recipient: what a transport needs of it is read at most once.
    const frame = new OutboundFrame(bytes, facts);
    if (channels.length === 1) {
      for (const connection of this.recipientsOf(channels[0]!)) {
        if (except.length > 0 && except.includes(connection.id)) continue;
        // Only connections are ever congested (a watcher has no such getter).
        const member = connection as RealtimeConnection;
        if (volatile && member.congested) {
          member.volatileSkipped++;
          continue;
        }
        // A connection replaying this room's history gets live frames after it.
        const held = position && member.recovering?.get(position.room);
        if (held) held.push({ offset: position.offset, frame });
        else if (!(position && member.replayed && replayedAlready(member, position))) {
          connection.send(frame);
          recipients++;
          // A watcher (presence, delivery) counts nothing: it is the library's own.
          if (member.delivered !== undefined) member.delivered++;
        }
      }
      return recipients;
    }
    // Several channels: a connection in two of them must get the frame once.
    const sent = new Set<ChannelSubscriber>();
    for (const channel of channels) {
      for (const connection of this.recipientsOf(channel)) {
        if (sent.has(connection) || except.includes(connection.id)) continue;
        const member = connection as RealtimeConnection;
        if (volatile && member.congested) {
          member.volatileSkipped++;
          continue;
        }
        sent.add(connection);
        connection.send(frame);
        recipients++;
        if (member.delivered !== undefined) member.delivered++;
      }
    }
    return recipients;
  }

  /**
   * The engine lost messages of a room for this node (its link to the other nodes
   * dropped, and they are no longer kept): each local member is told where the room
   * goes on from, with `rt:resync`, before any later message of the room.
   */
  lost(channel: string, room: string, { epoch, offset }: StreamPosition): void {
    const frame = encodeFrame({ event: BuiltinEvent.Resync, data: { room, epoch, offset } });
    for (const connection of this.recipientsOf(channel)) connection.send(frame);
  }

  /** Adds a local subscriber; the first one on this node subscribes the node. */
  subscribe(channel: string, subscriber: ChannelSubscriber, room?: string): Promise<void> {
    if (this.connections.subscribe(channel, subscriber)) {
      const subscribed = this.broker.subscribe(channel, room);
      this.subscriptions.set(channel, subscribed);
      // Settled, it is forgotten; a failed one must not fail the channel's later subscribers too.
      const settled = () => {
        if (this.subscriptions.get(channel) === subscribed) this.subscriptions.delete(channel);
      };
      subscribed.then(settled, settled);
      return subscribed;
    }
    return this.subscriptions.get(channel) ?? Promise.resolve();
  }

  /** Removes a local subscriber; the last one on this node unsubscribes the node. */
  async unsubscribe(channel: string, subscriber: ChannelSubscriber): Promise<void> {
    if (!this.connections.unsubscribe(channel, subscriber)) return;
    this.subscriptions.delete(channel);
    await this.broker.unsubscribe(channel).catch((error: unknown) => {
      if (error instanceof EngineUnavailableError) return; // logged once, by the engine
      this.logger.warn(`engine could not unsubscribe ${channel}: ${String(error)}`);
    });
  }

  private recipientsOf(channel: string): Iterable<ChannelSubscriber> {
    if (channel === BROADCAST_CHANNEL) return this.connections.list();
    return this.connections.subscribers(channel) ?? NO_RECIPIENTS;
  }
}

/**
 * Whether a room frame reached the connection in its replay already (handed over late
 * by the broker); the first later one ends the check, since a room's frames come in
 * order.
 */
function replayedAlready(
  connection: RealtimeConnection,
  { room, offset, epoch }: NonNullable<EnginePublication['position']>,
): boolean {
  const mark = connection.replayed!.get(room);
  if (!mark) return false;
  if (offset <= mark.offset && (epoch === undefined || epoch === mark.epoch)) return true;
  forgetReplay(connection, room);
  return false;
}
