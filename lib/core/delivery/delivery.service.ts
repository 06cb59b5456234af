import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { Subject, type Observable } from 'rxjs';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { DeliveryOptions, ResolvedRealtimeOptions } from '../../realtime.options.js';
import { assertUserEvent, encodeFrame } from '../frame.js';
import type { RealtimeConnection } from '../realtime-connection.js';
import { ErrorCode, RealtimeError } from '../realtime-error.js';
import { RealtimeHub } from '../realtime-hub.js';

/** Who an acknowledged message is for: every connection of a user, or one connection. */
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

interface Pending {
  readonly id: string;
  readonly event: string;
  readonly data: unknown;
  readonly frame: Buffer;
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
    const id = randomBytes(9).toString('base64url');
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
    else add(this.byUser, pending.userId!, pending);
    this.attempt(pending);
    return id;
  }

  /** @internal A client's `rt:ack`: the message is delivered. */
  ack(connection: RealtimeConnection, id: unknown): void {
    if (typeof id !== 'string') return;
    const pending = this.byId.get(id);
    if (!pending) return; // late, duplicate, or not this client's: nothing to do
    const mine = pending.connection
      ? pending.connection === connection
      : pending.userId === connection.userId;
    if (mine) this.forget(pending);
  }

  /** Sends (again) to whoever the message is for, and schedules the next try. */
  private attempt(pending: Pending): void {
    const now = Date.now();
    if (now >= pending.expiresAt) return this.giveUp(pending, 'expired');
    if (pending.attempts >= pending.maxAttempts) return this.giveUp(pending, 'attempts');
    const recipients = pending.connection
      ? [pending.connection]
      : this.hub.connections.listByUser(pending.userId!).filter((c) => c.answers);
    if (recipients.length === 0) {
      // Nobody to send to: wait for a connection (resume), or for the time to live.
      pending.waiting = true;
      pending.timer = setTimeout(() => this.attempt(pending), timerDelay(pending.expiresAt - now));
      return;
    }
    pending.waiting = false;
    pending.attempts++;
    for (const connection of recipients) connection.send(pending.frame);
    const { ackTimeout, maxBackoff } = this.options;
    const wait = Math.min(maxBackoff, ackTimeout * 2 ** (pending.attempts - 1));
    pending.timer = setTimeout(
      () => this.attempt(pending),
      timerDelay(Math.min(wait, pending.expiresAt - now)),
    );
  }

  /** A user's new connection gets their waiting messages at once. */
  private resume(connection: RealtimeConnection): void {
    const { userId } = connection;
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

  private forget(pending: Pending): void {
    clearTimeout(pending.timer);
    this.byId.delete(pending.id);
    if (pending.connection) remove(this.byConnection, pending.connection, pending);
    else remove(this.byUser, pending.userId!, pending);
  }
}

/** setTimeout runs anything longer than 2^31-1 ms at once: wait at most that, then look again. */
function timerDelay(ms: number): number {
  return Math.min(2_147_483_647, Math.max(0, ms));
}

function add<K>(index: Map<K, Set<Pending>>, key: K, pending: Pending): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(pending);
}

function remove<K>(index: Map<K, Set<Pending>>, key: K, pending: Pending): void {
  const set = index.get(key);
  set?.delete(pending);
  if (set?.size === 0) index.delete(key);
}
