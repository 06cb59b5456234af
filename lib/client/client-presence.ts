import { BuiltinEvent } from '../protocol/events.js';
import type { PresenceState } from './client-types.js';
import type { ClientRequests } from './client-requests.js';
import { Listeners } from './listeners.js';
import { neverApplied } from './request-errors.js';

/** How many user ids one `rt:watch` frame may carry. */
const WATCH_CHUNK = 1_000;

/**
 * The client's presence: this user's status and the users it watches, both set
 * again on each new connection ({@link resume}), and the listeners of what the
 * server reports.
 *
 * @example
 * ```ts
 * const presence = new ClientPresence(requests);
 * presence.on((state) => badge(state.userId, state.status));
 * await presence.watch(['ada', 'bob']);
 * ```
 */
export class ClientPresence {
  private readonly listeners = new Listeners<[PresenceState]>();
  private readonly watched = new Set<string>();
  private status: { status: string; meta: Record<string, unknown> | null } | undefined;

  constructor(private readonly requests: ClientRequests) {}

  /** Listens to presence states; returns the function that stops. */
  on(listener: (state: PresenceState) => void): () => void {
    return this.listeners.add(listener);
  }

  /** A state the server reported (`rt:presence`), or a re-watch brought. */
  notify(state: PresenceState): void {
    this.listeners.emit(state);
  }

  /** Sets this user's status; it is set again after each reconnect once applied. */
  async setStatus(
    status: PresenceState['status'],
    meta: Record<string, unknown> | null,
  ): Promise<PresenceState> {
    const previous = this.status;
    this.status = { status, meta };
    try {
      return await this.requests.ask(BuiltinEvent.Status, { status, meta });
    } catch (error) {
      // A status refused, or never sent, is not set again after a reconnect.
      if (neverApplied(error) && this.status.status === status) this.status = previous;
      throw error;
    }
  }

  /** Watches these users, again after each reconnect; resolves with their states. */
  async watch(users: readonly string[]): Promise<PresenceState[]> {
    const added = users.filter((user) => !this.watched.has(user));
    for (const user of added) this.watched.add(user);
    try {
      const reply = await this.requests.ask<{ statuses: PresenceState[] }>(BuiltinEvent.Watch, {
        users,
      });
      return reply.statuses;
    } catch (error) {
      // Users refused (a limit, bad ids), or never asked for, are not watched again either.
      if (neverApplied(error)) for (const user of added) this.watched.delete(user);
      throw error;
    }
  }

  /** Stops watching these users; resolves with how many the connection still watches. */
  async unwatch(users: readonly string[]): Promise<number> {
    for (const user of users) this.watched.delete(user);
    const reply = await this.requests.ask<{ watching: number }>(BuiltinEvent.Unwatch, { users });
    return reply.watching;
  }

  /** These users' current states, in the same order. */
  async statuses(users: readonly string[]): Promise<PresenceState[]> {
    const reply = await this.requests.ask<{ statuses: PresenceState[] }>(BuiltinEvent.Statuses, {
      users,
    });
    return reply.statuses;
  }

  /** The users present in a room the connection is in. */
  async members(room: string): Promise<PresenceState[]> {
    const reply = await this.requests.ask<{ members: PresenceState[] }>(BuiltinEvent.Members, {
      room,
    });
    return reply.members;
  }

  /**
   * A new connection said `rt:connected`: watch again (in chunks of
   * {@link WATCH_CHUNK} ids, the states told to the listeners, so that changes
   * missed while away are seen) and set the status again. One step per frame sent.
   */
  resume(): Promise<unknown>[] {
    const steps: Promise<unknown>[] = [];
    const users = [...this.watched];
    for (let i = 0; i < users.length; i += WATCH_CHUNK) {
      const chunk = users.slice(i, i + WATCH_CHUNK);
      steps.push(
        this.requests
          .ask<{ statuses: PresenceState[] }>(
            BuiltinEvent.Watch,
            { users: chunk },
            this.requests.timeout,
            true,
          )
          .then(({ statuses }) => statuses.forEach((state) => this.notify(state))),
      );
    }
    if (this.status) {
      steps.push(this.requests.ask(BuiltinEvent.Status, this.status, this.requests.timeout, true));
    }
    return steps;
  }
}
