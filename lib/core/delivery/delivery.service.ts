import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Subject, type Observable } from 'rxjs';
import {
  MAX_TIMER_DELAY,
  assertUserEvent,
  encodeFrame,
  ErrorCode,
  RealtimeError,
  OutboundFrame,
} from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import type { DeliveryOptions } from './delivery.options.js';
import type { RealtimeConnection } from '../realtime-connection.js';
import { RealtimeHub } from '../realtime-hub.js';
import { deliveryChannel } from '../channels.js';
import type { ChannelSubscriber } from '../connection-registry.js';
import { EngineUnavailableError } from '../../engines/engine-unavailable.error.js';

/**
 * Who an acknowledged message is for: every connection of a user, or one connection.
 *
 * @example
 * ```ts
 * const target: DeliveryTarget = { userId: 'alice' }; // or a connection
 * ```
 */
export type DeliveryTarget = { readonly userId: string } | RealtimeConnection;

/**
 * A message given up on, and why: not acknowledged in `attempts` sends (`attempts`),
 * past its time to live (`expired`), or its one connection closed (`disconnected`).
 *
 * @example
 * ```ts
 * delivery.undeliverable$.subscribe(({ id, userId, reason }) => log.warn(`${id} to ${userId}: ${reason}`));
 * ```
 */
export interface Undeliverable {
  readonly id: string;
  readonly event: string;
  readonly data: unknown;
  readonly userId?: string;
  readonly connectionId?: string;
  readonly reason: 'attempts' | 'expired' | 'disconnected' | 'shutdown';
  readonly attempts: number;
}

/** A message for a user, as another node gets it to hand to its connections of the user. */
interface RemoteAttempt {
  readonly id: string;
  readonly userId: string;
  readonly frame: string;
}

/** What a wake channel carries: nothing but the news. */
const WAKE = new OutboundFrame(Buffer.from('{}'), null);

interface Pending {
  readonly id: string;
  readonly event: string;
  readonly data: unknown;
  readonly frame: OutboundFrame;
  readonly userId?: string;
  readonly connection?: RealtimeConnection;
  readonly expiresAt: number;
  readonly maxAttempts: number;
  attempts: number;
  /** Whether it waits for a connection of its user (nobody to send to at the last try). */
  waiting: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Acknowledged delivery: a message the client must acknowledge (`rt:ack`), sent
 * again with backoff until it is, or until its attempts or time to live run out;
 * then it is reported on `undeliverable$`. Every send of a message carries the same
 * `ack` id, so a client drops duplicates. A user's messages wait while the user has
 * no connection, and go out when one comes; at most `delivery.maxPendingPerUser` wait
 * per user.
 *
 * @example
 * ```ts
 * const id = await delivery.send({ userId: 'alice' }, 'invoice', { total: 42 }, { ttl: 3_600_000 });
 * delivery.onUndeliverable((failed) => mailer.fallback(failed));
 * ```
 */
@Injectable()
export class DeliveryService implements OnModuleInit, OnApplicationShutdown {
  private readonly options: Readonly<Required<DeliveryOptions>>;
  private readonly byId = new Map<string, Pending>();
  private readonly byUser = new Map<string, Set<Pending>>();
  private readonly byConnection = new Map<RealtimeConnection, Set<Pending>>();
  /** Per user with messages here: this node's subscriber to the user's presence. */
  private readonly watchers = new Map<string, ChannelSubscriber>();
  private readonly logger = new Logger('RealtimeDelivery');
  private readonly failed = new Subject<Undeliverable>();
  /** Messages that could not be delivered, as they are given up on. */
  readonly undeliverable$: Observable<Undeliverable> = this.failed.asObservable();

  constructor(
    private readonly hub: RealtimeHub,
    @Inject(REALTIME_OPTIONS) options: ResolvedRealtimeOptions,
  ) {
    this.options = options.delivery;
  }

  onModuleInit(): void {
    this.hub.addListener({
      connectionAdded: (connection) => this.resume(connection),
      connectionRemoved: (connection) => this.dropConnection(connection),
    });
    const { link } = this.hub;
    // An acknowledgement that reached another node, for a message sent from this one.
    link.handle('ack', ({ id, userId }: { id: string; userId: string }) => {
      const pending = this.byId.get(id);
      if (pending?.userId !== undefined && pending.userId === userId) this.acked(pending);
    });
    // Another node's message for a user: this node's connections of the user that can
    // acknowledge get it, and the sending node hears that someone did.
    link.handle('deliver', ({ id, userId, frame }: RemoteAttempt, from: string) => {
      const here = this.hub.connections.listByUser(userId).filter((c) => c.answers);
      if (here.length === 0) return;
      const encoded = new OutboundFrame(Buffer.from(frame));
      for (const connection of here) connection.send(encoded);
      link.tell(from, 'delivered', { id });
    });
    link.handle('delivered', ({ id }: { id: string }) => {
      const pending = this.byId.get(id);
      if (!pending?.waiting) return; // sent here already, or another node said so first
      clearTimeout(pending.timer);
      this.sent(pending, Date.now());
    });
  }

  onApplicationShutdown(): void {
    for (const pending of this.byId.values()) this.giveUp(pending, 'shutdown');
    this.failed.complete();
  }

  /** Calls `listener` for each message given up on; returns the function that stops it. */
  onUndeliverable(listener: (failed: Undeliverable) => void): () => void {
    const subscription = this.undeliverable$.subscribe(listener);
    return () => subscription.unsubscribe();
  }

  /**
   * Sends `{ event, data, ack }` and keeps sending it until acknowledged; resolves
   * with the message id (the `ack`).
   *
   * @throws RealtimeError INVALID_DATA (bad event; a connection not open here),
   *   QUEUE_FULL (the user has `delivery.maxPendingPerUser` messages waiting).
   */
  async send(
    target: DeliveryTarget,
    event: string,
    data?: unknown,
    { ttl = this.options.ttl, maxAttempts = this.options.maxAttempts } = {},
  ): Promise<string> {
    assertUserEvent(event);
    // The id names this node: an acknowledgement that reaches another node comes back here.
    const id = `${this.hub.nodeId}.${randomBytes(9).toString('base64url')}`;
    const connection = 'send' in target ? target : undefined;
    const userId = connection ? connection.userId : (target as { userId: string }).userId;
    if (connection && !this.hub.connections.has(connection)) {
      throw new RealtimeError(ErrorCode.InvalidData, 'not an open connection of this node');
    }
    if (connection && !connection.answers) {
      throw new RealtimeError(
        ErrorCode.InvalidData,
        `a ${connection.transport} connection cannot acknowledge`,
      );
    }
    if (
      !Number.isSafeInteger(ttl) ||
      ttl <= 0 ||
      !Number.isSafeInteger(maxAttempts) ||
      maxAttempts <= 0
    ) {
      throw new RealtimeError(
        ErrorCode.InvalidData,
        'ttl and maxAttempts must be positive integers',
      );
    }
    const waiting =
      (connection ? this.byConnection.get(connection) : this.byUser.get(userId!))?.size ?? 0;
    if (waiting >= this.options.maxPendingPerUser) {
      this.hub.metrics.acknowledged.inc('refused');
      throw new RealtimeError(
        ErrorCode.QueueFull,
        `${waiting} messages are waiting for acknowledgement already`,
      );
    }
    const pending: Pending = {
      id,
      event,
      data,
      frame: encodeFrame({ event, data, ack: id }),
      userId: connection ? undefined : userId,
      connection,
      expiresAt: Date.now() + ttl,
      maxAttempts,
      attempts: 0,
      waiting: false,
      timer: undefined,
    };
    this.byId.set(id, pending);
    if (connection) add(this.byConnection, connection, pending);
    else if (add(this.byUser, pending.userId!, pending)) this.watchUser(pending.userId!);
    this.attempt(pending);
    return id;
  }

  /** @internal A client's `rt:ack`: the message is delivered. */
  ack(connection: RealtimeConnection, id: unknown): void {
    if (typeof id !== 'string') return;
    const pending = this.byId.get(id);
    if (!pending) {
      // Sent from another node (to this node's connection of the user): it hears of it.
      const node = this.hub.remoteNode(id);
      if (node && connection.userId !== undefined) {
        this.hub.link.tell(node, 'ack', { id, userId: connection.userId });
      }
      return; // late, duplicate, or not this client's: nothing more to do
    }
    const mine = pending.connection
      ? pending.connection === connection
      : pending.userId === connection.userId;
    if (mine) this.acked(pending);
  }

  /** Sends (again) to whoever the message is for, and schedules the next try. */
  private attempt(pending: Pending): void {
    const now = Date.now();
    if (now >= pending.expiresAt) return this.giveUp(pending, 'expired');
    if (pending.attempts >= pending.maxAttempts) return this.giveUp(pending, 'attempts');
    if (pending.connection) {
      pending.connection.send(pending.frame);
      return this.sent(pending, now);
    }
    const userId = pending.userId!;
    const here = this.hub.connections.listByUser(userId).filter((c) => c.answers);
    for (const connection of here) connection.send(pending.frame);
    if (this.hub.clustered) {
      // The other nodes' connections of the user; a node that hands it over says so.
      const attempt: RemoteAttempt = { id: pending.id, userId, frame: pending.frame.text };
      this.hub.link.tell(undefined, 'deliver', attempt);
    }
    // Nobody here: it waits, and counts as sent once another node reports a handover.
    if (here.length > 0) this.sent(pending, now);
    else this.wait(pending, now);
  }

  /** Nobody to send to: waits for a connection (resume, a wake), or for the time to live. */
  private wait(pending: Pending, now: number): void {
    pending.waiting = true;
    pending.timer = setTimeout(() => this.attempt(pending), timerDelay(pending.expiresAt - now));
  }

  /** An attempt went out: the next one is scheduled with backoff. */
  private sent(pending: Pending, now: number): void {
    pending.waiting = false;
    pending.attempts++;
    this.hub.metrics.acknowledged.inc(pending.attempts === 1 ? 'sent' : 'resent');
    const { ackTimeout, maxBackoff } = this.options;
    const wait = Math.min(maxBackoff, ackTimeout * 2 ** (pending.attempts - 1));
    pending.timer = setTimeout(
      () => this.attempt(pending),
      timerDelay(Math.min(wait, pending.expiresAt - now)),
    );
  }

  /** A user's new connection gets their waiting messages at once, on every node. */
  private resume(connection: RealtimeConnection): void {
    const { userId } = connection;
    if (userId !== undefined && connection.answers && this.hub.clustered) {
      this.hub.publish([deliveryChannel(userId)], WAKE, []).catch(() => undefined);
    }
    // A connection that cannot acknowledge (an SSE stream) is no recipient.
    const waiting =
      userId === undefined || !connection.answers ? undefined : this.byUser.get(userId);
    if (!waiting) return;
    for (const pending of waiting) {
      if (pending.waiting) {
        clearTimeout(pending.timer);
        this.attempt(pending);
      } else {
        // Already on its way to the user's other connections: this one gets a copy, and
        // the schedule of attempts stays as it is.
        connection.send(pending.frame);
      }
    }
  }

  /** Messages for exactly this connection cannot be delivered once it is gone. */
  private dropConnection(connection: RealtimeConnection): void {
    for (const pending of this.byConnection.get(connection) ?? []) {
      this.giveUp(pending, 'disconnected');
    }
  }

  private giveUp(pending: Pending, reason: Undeliverable['reason']): void {
    this.forget(pending);
    this.hub.metrics.acknowledged.inc('undeliverable');
    this.failed.next({
      id: pending.id,
      event: pending.event,
      data: pending.data,
      userId: pending.userId ?? pending.connection?.userId,
      connectionId: pending.connection?.id,
      reason,
      attempts: pending.attempts,
    });
  }

  /** The client acknowledged it: delivered. */
  private acked(pending: Pending): void {
    this.forget(pending);
    this.hub.metrics.acknowledged.inc('acked');
  }

  private forget(pending: Pending): void {
    clearTimeout(pending.timer);
    this.byId.delete(pending.id);
    if (pending.connection) remove(this.byConnection, pending.connection, pending);
    else if (remove(this.byUser, pending.userId!, pending)) this.unwatchUser(pending.userId!);
  }

  /**
   * While a user has messages waiting here, this node listens on the user's wake
   * channel: a node that gets a connection of the user that can acknowledge says so
   * there, and the waiting messages go out at once.
   */
  private watchUser(userId: string): void {
    if (!this.hub.clustered) return; // alone: resume() sees every new connection
    const watcher: ChannelSubscriber = {
      id: `delivery:${userId}`,
      send: () => {
        for (const pending of this.byUser.get(userId) ?? []) {
          if (!pending.waiting) continue;
          clearTimeout(pending.timer);
          this.attempt(pending);
        }
      },
    };
    this.watchers.set(userId, watcher);
    this.hub.subscribeChannel(deliveryChannel(userId), watcher).catch((error: unknown) => {
      // Unreachable engine: messages still go out on the next attempt or at a local connection.
      if (error instanceof EngineUnavailableError) return; // logged once, by the engine
      this.logger.warn(`could not follow ${userId}'s connections: ${String(error)}`);
    });
  }

  private unwatchUser(userId: string): void {
    const watcher = this.watchers.get(userId);
    if (!watcher) return;
    this.watchers.delete(userId);
    void this.hub.unsubscribeChannel(deliveryChannel(userId), watcher);
  }
}

/** setTimeout runs anything longer than 2^31-1 ms at once: wait at most that, then look again. */
function timerDelay(ms: number): number {
  return Math.min(MAX_TIMER_DELAY, Math.max(0, ms));
}

/** Adds to an index; true when the key is new. */
function add<K>(index: Map<K, Set<Pending>>, key: K, pending: Pending): boolean {
  let set = index.get(key);
  const added = !set;
  if (!set) index.set(key, (set = new Set()));
  set.add(pending);
  return added;
}

/** Removes from an index; true when the key is gone. */
function remove<K>(index: Map<K, Set<Pending>>, key: K, pending: Pending): boolean {
  const set = index.get(key);
  set?.delete(pending);
  if (set?.size !== 0) return false;
  index.delete(key);
  return true;
}
