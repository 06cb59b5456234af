import { roomPresenceChannel } from '../channels.js';
import type { ChannelSubscriber } from '../connection-registry.js';
import type { RealtimeConnection } from '../realtime-connection.js';
import type { RealtimeHub } from '../realtime-hub.js';
import { isVisible, type PresenceState } from './presence-state.js';

/**
 * The data of an `rt:room-presence` frame.
 *
 * @example
 * ```ts
 * const diff: RoomPresenceDiff = { joined: [state], left: ['u2'], changed: [] };
 * ```
 */
export interface RoomPresenceDiff {
  readonly joined: PresenceState[];
  readonly left: string[];
  readonly changed: PresenceState[];
}

/** One followed room on this node: its members as the diffs delivered here tell them. */
interface RoomView {
  /** Visible members by user id, in the order they came (the public view). */
  readonly members: Map<string, PresenceState>;
  readonly followers: Set<RealtimeConnection>;
  /** Receives the room's diffs, before any follower of this node does. */
  readonly subscriber: ChannelSubscriber;
  /** Diffs delivered while the first list is read from the engine; undefined after. */
  held: RoomPresenceDiff[] | undefined;
  /** Settles when the view is complete (subscribed, first list read, held diffs applied). */
  ready: Promise<void>;
}

function apply(members: Map<string, PresenceState>, { joined, left, changed }: RoomPresenceDiff) {
  for (const state of joined) members.set(state.userId, state);
  for (const state of changed) members.set(state.userId, state);
  for (const userId of left) members.delete(userId);
}

/**
 * This node's followers of rooms' members (`rt:join` with `presence: true`), and per
 * followed room the member list that the diffs delivered here add up to. A follower's
 * snapshot is that list, taken in the same tick as its subscription to the diffs: the
 * diffs it receives go on from exactly what it was told, so none repeats a member it
 * listed (the follower's own entry aside), and none is missed. The list is read from
 * the engine once, when the first follower of this node follows the room, and dropped
 * when the last one leaves: it costs one entry per visible member of a followed room.
 *
 * @example
 * ```ts
 * const followers = new RoomFollowers(hub, (room) => presence.roomMembers(room));
 * const members = await followers.follow(connection, 'lobby', ownState);
 * followers.unfollow(connection, 'lobby'); // when it leaves the room
 * ```
 */
export class RoomFollowers {
  private readonly views = new Map<string, RoomView>();
  private opened = 0;

  constructor(
    private readonly hub: RealtimeHub,
    /**
     * The room's visible members as the engine has them now (public view), less those
     * whose change is still to go out in a diff of this node.
     */
    private readonly readMembers: (room: string) => Promise<PresenceState[]>,
    /** Settles once this node's changes of the room recorded so far are out in a diff. */
    private readonly changesOut: (room: string) => Promise<void>,
  ) {}

  /**
   * Makes the connection receive the room's diffs; resolves with the members it is to
   * start from. `own` is the follower's own state as they see it: listed too, at the
   * end, when the room's list does not have it yet (their join not yet in a diff, or
   * they are invisible to the others).
   */
  async follow(
    connection: RealtimeConnection,
    room: string,
    own: PresenceState | undefined,
  ): Promise<PresenceState[]> {
    const view = this.views.get(room) ?? this.open(room);
    view.followers.add(connection);
    try {
      await view.ready;
      // The joins of this batch (the follower's own among them) are listed, not repeated.
      await this.changesOut(room);
    } catch (error) {
      view.followers.delete(connection);
      throw error;
    }
    // Subscribed and listed in one tick: no diff comes between the two. A connection
    // that left the room meanwhile is told the list, and gets no diff.
    const subscribed = view.followers.has(connection)
      ? this.hub.subscribeChannel(roomPresenceChannel(room), connection)
      : undefined;
    const members = [...view.members.values()];
    if (own && isVisible(own) && !view.members.has(own.userId)) members.push(own);
    await subscribed;
    return members;
  }

  /** The connection no longer receives the room's diffs (it left the room). */
  unfollow(connection: RealtimeConnection, room: string): void {
    const view = this.views.get(room);
    if (!view?.followers.delete(connection)) return;
    void this.hub.unsubscribeChannel(roomPresenceChannel(room), connection);
    if (view.followers.size === 0) this.close(room, view);
  }

  private open(room: string): RoomView {
    const view: RoomView = {
      members: new Map(),
      followers: new Set(),
      held: [],
      subscriber: {
        id: `room-followers.${++this.opened}`,
        send: (frame) => {
          const diff = frame.facts!.data as RoomPresenceDiff;
          if (view.held) view.held.push(diff);
          else apply(view.members, diff);
        },
      },
      ready: Promise.resolve(),
    };
    this.views.set(room, view);
    view.ready = (async () => {
      // Subscribed before reading: a change the list misses comes in a diff. One the
      // list has already may come in a diff too (applied again, by user id, in order).
      await this.hub.subscribeChannel(roomPresenceChannel(room), view.subscriber);
      for (const state of await this.readMembers(room)) view.members.set(state.userId, state);
      for (const diff of view.held!) apply(view.members, diff);
      view.held = undefined;
    })();
    // Its followers hear of the failure; the next follower starts afresh.
    view.ready.catch(() => this.close(room, view));
    return view;
  }

  private close(room: string, view: RoomView): void {
    if (this.views.get(room) === view) this.views.delete(room);
    void this.hub.unsubscribeChannel(roomPresenceChannel(room), view.subscriber);
  }
}
