import { BuiltinEvent } from '../protocol/events.js';
import type { RealtimeClientError, RoomInfo } from './client-types.js';
import type { ClientRequests, RequestLink } from './client-requests.js';
import { closedError, refusedByServer } from './request-errors.js';
import { RoomSubscription, type JoinOptions } from './room-subscription.js';

/**
 * The rooms the client keeps: joined on each new connection ({@link resume}) until
 * left, or until the server refuses a re-join.
 *
 * @example
 * ```ts
 * const rooms = new ClientRooms(requests, link, (reason) => session.drop(reason));
 * const lobby = rooms.subscribe('lobby', { recover: true });
 * ```
 */
export class ClientRooms {
  private readonly rooms = new Map<string, RoomSubscription<any>>();

  /**
   * @param drop gives the current connection up: a join sent on it got no answer,
   * so its state is unknown.
   */
  constructor(
    private readonly requests: ClientRequests,
    private readonly link: RequestLink,
    private readonly drop: (reason: string) => void,
  ) {}

  /** The subscription of a room kept, if any. */
  get(name: string): RoomSubscription<any> | undefined {
    return this.rooms.get(name);
  }

  /**
   * Keeps a room, and joins it now if connected; a room kept already gives its
   * subscription.
   *
   * @throws RealtimeClientError `CLOSED` once the client has stopped.
   */
  subscribe(room: string, options: JoinOptions): RoomSubscription<any> {
    if (this.link.state() === 'disconnected') throw closedError();
    let subscription = this.rooms.get(room);
    if (subscription) return subscription;
    subscription = new RoomSubscription(room, { ...options }, this);
    this.rooms.set(room, subscription);
    if (this.link.session()) {
      this.join(subscription).catch((error: RealtimeClientError) => {
        if (error.code === 'TIMEOUT') this.drop(error.message);
      });
    }
    return subscription;
  }

  /** Leaves a room, kept or not (one the server joined the connection to). */
  async leave(room: string): Promise<boolean> {
    const subscription = this.rooms.get(room);
    if (subscription) return this.leaveRoom(subscription);
    if (!this.link.session()) return false;
    return this.sendLeave(room);
  }

  /** @internal Used by {@link RoomSubscription.leave}. */
  async leaveRoom(subscription: RoomSubscription<any>): Promise<boolean> {
    if (this.rooms.get(subscription.name) !== subscription) return false;
    this.rooms.delete(subscription.name);
    subscription.end();
    if (!this.link.session()) return true; // the next connection will not be in it
    return this.sendLeave(subscription.name);
  }

  /** Publishes to a room; without echo, its subscription skips the message in a recovery. */
  async publish(
    room: string,
    event: string,
    data: unknown,
    echo: boolean | undefined,
  ): Promise<{ epoch: string; offset: number }> {
    const { epoch, offset } = await this.requests.ask<{ epoch: string; offset: number }>(
      BuiltinEvent.Publish,
      { room, event, data, echo },
    );
    if (!echo) this.rooms.get(room)?.skipOwn(epoch, offset);
    return { epoch, offset };
  }

  /** A new connection said `rt:connected`: every room kept is joined again. */
  resume(): Promise<void>[] {
    return [...this.rooms.values()].map((subscription) => this.join(subscription));
  }

  /** The client stopped for good: every subscription ends with `error`. */
  end(error: RealtimeClientError): void {
    for (const subscription of this.rooms.values()) subscription.end(error);
    this.rooms.clear();
  }

  private async sendLeave(room: string): Promise<boolean> {
    const reply = await this.requests.ask<{ left: boolean }>(
      BuiltinEvent.Leave,
      { room },
      this.requests.timeout,
      true,
    );
    return reply.left;
  }

  /** Sends a (re-)join and applies its reply; a refused re-join ends the subscription. */
  private async join(subscription: RoomSubscription<any>): Promise<void> {
    const again = subscription.info !== undefined;
    try {
      const info = await this.requests.ask<RoomInfo>(
        BuiltinEvent.Join,
        subscription.joinData(),
        this.requests.timeout,
        true,
      );
      if (this.rooms.get(subscription.name) !== subscription) return; // left meanwhile
      subscription.joinedWith(info, again);
    } catch (error) {
      // Only the server's refusal ends a subscription; without an answer (lost, or
      // timed out: then the connection is dropped) the next connection joins again.
      if (!refusedByServer(error)) throw error;
      if (this.rooms.get(subscription.name) === subscription) this.rooms.delete(subscription.name);
      subscription.end(error as RealtimeClientError);
    }
  }
}
