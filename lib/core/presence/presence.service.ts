import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { Observable } from 'rxjs';
import type {
  ChosenStatus,
  PresenceMeta,
  PresenceRecord,
} from '../../engines/presence-store.interface.js';
import { RealtimeEngine } from '../../engines/realtime-engine.interface.js';
import {
  BuiltinEvent,
  encodeFrame,
  ErrorCode,
  RealtimeError,
  type OutboundFrame,
} from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import type { PresenceOptions } from './presence.options.js';
import { presenceChannel, roomPresenceChannel, userChannel } from '../channels.js';
import type { ChannelSubscriber } from '../connection-registry.js';
import type { RealtimeConnection } from '../realtime-connection.js';
import type { LeaveCause } from '../hub/hub-listeners.js';
import type { RoomInfo } from '../hub/room-joins.js';
import { RealtimeHub } from '../realtime-hub.js';
import {
  assertChosenStatus,
  assertMeta,
  assertUserIds,
  isVisible,
  sameState,
  viewOf,
  type PresenceState,
} from './presence-state.js';
import { RoomFollowers, type RoomPresenceDiff } from './room-followers.js';
import { RoomPresenceBatcher, type MemberChange } from './room-presence-batcher.js';
import { logFailure } from '../../engines/engine-unavailable.error.js';

/**
 * Whose eyes a state is seen through: the user themself sees `invisible`.
 *
 * @example
 * ```ts
 * await presence.getStatuses(['bob'], { viewer: client.userId } satisfies PresenceViewOptions);
 * ```
 */
export interface PresenceViewOptions {
  /** The user looking; defaults to nobody in particular (the public view). */
  readonly viewer?: string;
}

/**
 * User statuses, room members and watchers, for every transport, kept in the
 * engine so that all nodes agree.
 *
 * - A user is present while any of their connections lives, and for
 *   `presence.offlineDelay` after the last one went (a reload is not a departure).
 * - The status a user sets applies to all their connections and reaches all of them.
 * - `invisible`: the user sees themself so; everyone else sees `offline`, in
 *   statuses, room member lists and events alike.
 * - Room member changes go out as one diff per room per `presence.batchInterval`.
 *
 * @example
 * ```ts
 * constructor(private readonly presence: PresenceService) {}
 *
 * await this.presence.setStatus('u1', 'busy', { activity: 'in a call' });
 * const [a, b] = await this.presence.getStatuses(['u1', 'u2']);
 * const stop = this.presence.watch(['u1'], (state) => console.log(state.status));
 * this.presence.watch('u2').subscribe((state) => console.log(state));
 * ```
 */
@Injectable()
export class PresenceService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger('RealtimePresence');
  private readonly options: Readonly<Required<PresenceOptions>> | false;
  private readonly batcher: RoomPresenceBatcher | undefined;
  private readonly followers: RoomFollowers;
  /**
   * Each local connection's arrival in the presence store: its room joins and leaves
   * are told after it, so that a room's diff shows the user who joined (see roomJoined).
   */
  private readonly arrivals = new WeakMap<RealtimeConnection, Promise<unknown>>();
  /** Users each local connection watches. */
  private readonly watching = new Map<RealtimeConnection, Set<string>>();
  /** Departures held back by `offlineDelay`, keyed by room and user. */
  private readonly pendingLeaves = new Map<string, { room: string; userId: string; due: number }>();
  private readonly timers: NodeJS.Timeout[] = [];
  private watchers = 0;
  private stopped = false;

  constructor(
    private readonly hub: RealtimeHub,
    @Inject(RealtimeEngine) private readonly engine: RealtimeEngine,
    @Inject(REALTIME_OPTIONS) options: ResolvedRealtimeOptions,
  ) {
    this.options = options.presence;
    this.followers = new RoomFollowers(
      hub,
      async (room) => {
        const members = await this.roomMembers(room);
        const unsent = this.batcher!.unsent(room);
        return members.filter((state) => !unsent.has(state.userId));
      },
      (room) => this.batcher!.out(room),
    );
    if (this.options) {
      this.batcher = new RoomPresenceBatcher(this.options.batchInterval, (changes) =>
        this.publishDiffs(changes).catch((error: unknown) => this.report('room diff', error)),
      );
    }
  }

  /** Whether presence is on (`presence` option not `false`). */
  get enabled(): boolean {
    return this.options !== false;
  }

  onModuleInit(): void {
    const options = this.options;
    if (!options) return;
    this.hub.addListener(this);
    const every = (ms: number, work: () => Promise<void>, what: string) =>
      this.timers.push(
        setInterval(() => work().catch((e: unknown) => this.report(what, e)), ms).unref(),
      );
    every(options.heartbeatInterval, () => this.refresh(), 'refresh');
    every(options.cleanupInterval, () => this.sweep(), 'sweep');
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.batcher?.stop();
  }

  // -- the API --------------------------------------------------------------------

  /**
   * Sets the status a user chose, with optional metadata, for all their connections.
   * Resolves with the user's own view of it.
   *
   * @throws RealtimeError INVALID_DATA (unknown status, bad or oversized meta),
   *   USER_OFFLINE (the user has no live connection).
   */
  async setStatus(
    userId: string,
    status: ChosenStatus,
    meta: PresenceMeta | null = null,
  ): Promise<PresenceState> {
    const options = this.require();
    assertChosenStatus(status);
    assertMeta(meta, options.maxMetaBytes);
    const changed = await this.engine.presence.setStatus(userId, status, meta, Date.now());
    if (!changed) throw new RealtimeError(ErrorCode.UserOffline, `user "${userId}" is offline`);
    await this.announce(userId, changed.previous, changed.record);
    const own = viewOf(userId, changed.record, userId);
    await this.hub.publish([userChannel(userId)], presenceFrame(own), []);
    return own;
  }

  /** A user's state, as `viewer` (or anyone else) sees it. */
  async getStatus(userId: string, options: PresenceViewOptions = {}): Promise<PresenceState> {
    const [state] = await this.getStatuses([userId], options);
    return state!;
  }

  /** Several users' states in one call, in the order asked. */
  async getStatuses(
    userIds: readonly string[],
    { viewer }: PresenceViewOptions = {},
  ): Promise<PresenceState[]> {
    this.require();
    const records = await this.engine.presence.get(userIds);
    return userIds.map((userId, i) => viewOf(userId, records[i], viewer));
  }

  /**
   * Which of these users others may not see: those whose status is `invisible`
   * (none when presence is off). What the server tells other clients of a room or a
   * call leaves them out.
   */
  async hiddenUsers(userIds: readonly string[]): Promise<Set<string>> {
    if (!this.options || userIds.length === 0) return new Set();
    const records = await this.engine.presence.get(userIds);
    return new Set(userIds.filter((_, i) => records[i]?.status === 'invisible'));
  }

  /**
   * A room as `viewer` sees it (`rt:room`, gRPC `GetRoom`): its record and its users,
   * where an invisible user other than the viewer is neither listed nor counted in
   * `size`, as if offline. `hub.roomInfo` and `hub.roomUsers` keep the whole truth
   * for server code.
   *
   * @throws RealtimeError ROOM_NOT_FOUND when there is no such room.
   */
  async roomView(
    room: string,
    { viewer }: PresenceViewOptions = {},
  ): Promise<RoomInfo & { users: string[] }> {
    const [info, members] = await Promise.all([
      this.hub.roomInfo(room),
      this.hub.roomMembers(room),
    ]);
    if (!info) throw new RealtimeError(ErrorCode.RoomNotFound, `no room "${room}"`);
    const users = [...new Set(members.flatMap(({ userId }) => userId ?? []))];
    const hidden = await this.hiddenUsers(users.filter((userId) => userId !== viewer));
    const unseen = members.filter(({ userId }) => userId !== undefined && hidden.has(userId));
    return {
      ...info,
      size: info.size - unseen.length,
      users: users.filter((userId) => !hidden.has(userId)),
    };
  }

  /**
   * The users present in a room (members with a visible status, plus the viewer
   * themself if invisible), each once, in the order they joined.
   */
  async roomMembers(room: string, { viewer }: PresenceViewOptions = {}): Promise<PresenceState[]> {
    this.require();
    const users = await this.hub.roomUsers(room);
    const records = await this.engine.presence.get(users);
    return users
      .map((userId, i) => viewOf(userId, records[i], viewer))
      .filter((state) => isVisible(state));
  }

  /** Changes of these users' public state, as an Observable. */
  watch(userIds: string | readonly string[]): Observable<PresenceState>;
  /** Changes of these users' public state, to a callback; returns the function that stops it. */
  watch(userIds: string | readonly string[], listener: (state: PresenceState) => void): () => void;
  watch(
    userIds: string | readonly string[],
    listener?: (state: PresenceState) => void,
  ): Observable<PresenceState> | (() => void) {
    this.require();
    const users = typeof userIds === 'string' ? [userIds] : [...userIds];
    assertUserIds(users);
    const changes = new Observable<PresenceState>((subscriber) => {
      const watcher: ChannelSubscriber = {
        id: `watcher.${++this.watchers}`,
        send: (frame) => subscriber.next(frame.facts!.data as PresenceState),
      };
      for (const userId of users) void this.hub.subscribeChannel(presenceChannel(userId), watcher);
      return () => {
        for (const userId of users)
          void this.hub.unsubscribeChannel(presenceChannel(userId), watcher);
      };
    });
    if (!listener) return changes;
    const subscription = changes.subscribe(listener);
    return () => subscription.unsubscribe();
  }

  // -- for the protocol's built-in events -----------------------------------------

  /** @internal Makes a connection receive `rt:presence` for these users. */
  async watchFor(
    connection: RealtimeConnection,
    userIds: readonly string[],
  ): Promise<PresenceState[]> {
    const options = this.require();
    let watched = this.watching.get(connection);
    const added = userIds.filter((userId) => !watched?.has(userId));
    if ((watched?.size ?? 0) + new Set(added).size > options.maxWatchedPerConnection) {
      throw new RealtimeError(
        ErrorCode.WatchLimitReached,
        `a connection may watch ${options.maxWatchedPerConnection} users at most`,
      );
    }
    if (!watched) this.watching.set(connection, (watched = new Set()));
    for (const userId of added) watched.add(userId);
    await Promise.all(
      added.map((userId) => this.hub.subscribeChannel(presenceChannel(userId), connection)),
    );
    return this.getStatuses(userIds, { viewer: connection.userId });
  }

  /** @internal Stops `rt:presence` for these users; resolves with how many are still watched. */
  async unwatchFor(connection: RealtimeConnection, userIds: readonly string[]): Promise<number> {
    const watched = this.watching.get(connection);
    if (!watched) return 0;
    const removed = userIds.filter((userId) => watched.delete(userId));
    if (watched.size === 0) this.watching.delete(connection);
    await Promise.all(
      removed.map((userId) => this.hub.unsubscribeChannel(presenceChannel(userId), connection)),
    );
    return watched.size;
  }

  /**
   * @internal Makes a member receive the room's member diffs (`rt:room-presence`);
   * resolves with the members those diffs go on from (see {@link RoomFollowers}).
   */
  async followRoom(connection: RealtimeConnection, room: string): Promise<PresenceState[]> {
    this.require();
    const { userId } = connection;
    const own = userId === undefined ? undefined : await this.getStatus(userId, { viewer: userId });
    return this.followers.follow(connection, room, own);
  }

  // -- what the hub tells us ------------------------------------------------------

  /** @internal */
  connectionAdded(connection: RealtimeConnection): void {
    const { userId } = connection;
    if (userId === undefined) return;
    const now = Date.now();
    const arrival = this.engine.presence
      .add(this.entryOf(connection, userId, now), now)
      .then(({ record, cameOnline }) =>
        // The user's rooms hear of them from roomJoined: only watchers are told here.
        cameOnline ? this.announce(userId, undefined, record, false) : undefined,
      )
      .catch((error: unknown) => this.report('connect', error));
    this.arrivals.set(connection, arrival);
  }

  /** @internal */
  connectionRemoved(connection: RealtimeConnection): void {
    const watched = this.watching.get(connection);
    if (watched) void this.unwatchFor(connection, [...watched]);
    const { userId } = connection;
    if (userId === undefined) return;
    this.engine.presence
      .remove(userId, connection.id, Date.now())
      .catch((error: unknown) => this.report('disconnect', error));
  }

  /** @internal */
  roomJoined(connection: RealtimeConnection, room: string, firstOfUser: boolean): void {
    const { userId } = connection;
    if (userId === undefined || !firstOfUser) return;
    // Back within offlineDelay: for the others, the user never left.
    if (this.pendingLeaves.delete(leaveKey(room, userId))) return;
    // Recorded once the user is in the presence store, so that the diff shows them
    // (the only 'joined' a connection's arrival causes: not twice, in two diffs).
    void this.arrivalOf(connection).then(() => this.batcher!.record(room, userId, 'joined'));
  }

  /** @internal */
  roomLeft(
    connection: RealtimeConnection,
    room: string,
    lastOfUser: boolean,
    cause: LeaveCause,
  ): void {
    this.followers.unfollow(connection, room);
    const { userId } = connection;
    if (userId === undefined || !lastOfUser) return;
    const options = this.options as Required<PresenceOptions>;
    // Whether the others saw the user is decided now: a hidden user's leaving is not news.
    // (After the arrival, as the join was: a quick leave comes after its join.)
    this.arrivalOf(connection)
      .then(() => this.engine.presence.get([userId]))
      .then(([record]) => {
        if (!isVisible(viewOf(userId, record))) return;
        if (cause === 'disconnect' && options.offlineDelay > 0) {
          const due = Date.now() + options.offlineDelay;
          this.pendingLeaves.set(leaveKey(room, userId), { room, userId, due });
        } else {
          this.batcher!.record(room, userId, 'left');
        }
      })
      .catch((error: unknown) => this.report('leave', error));
  }

  // -- internals ------------------------------------------------------------------

  /**
   * Tells watchers (public view) and, unless `rooms` is false, the user's rooms about
   * a change of a user's record; `undefined` stands for offline.
   */
  private async announce(
    userId: string,
    previous: PresenceRecord | undefined,
    next: PresenceRecord | undefined,
    rooms = true,
  ): Promise<void> {
    if (this.stopped) return;
    const before = viewOf(userId, previous);
    const after = viewOf(userId, next);
    if (sameState(before, after)) return;
    await this.hub.publish([presenceChannel(userId)], presenceFrame(after), []);
    const change: MemberChange | undefined =
      isVisible(before) && isVisible(after)
        ? 'changed'
        : isVisible(after)
          ? 'joined'
          : isVisible(before)
            ? 'left'
            : undefined;
    if (!change || !rooms) return;
    for (const room of await this.engine.rooms.roomsOf(userId))
      this.batcher!.record(room, userId, change);
  }

  /** Sends one `rt:room-presence` diff per room to the members who follow it. */
  private async publishDiffs(changes: Map<string, Map<string, MemberChange>>): Promise<void> {
    if (this.stopped) return;
    const shown = new Set<string>();
    for (const users of changes.values()) {
      for (const [userId, change] of users) if (change !== 'left') shown.add(userId);
    }
    const ids = [...shown];
    const records = await this.engine.presence.get(ids);
    const states = new Map(ids.map((userId, i) => [userId, viewOf(userId, records[i])]));
    for (const [room, users] of changes) {
      const diff: RoomPresenceDiff = { joined: [], left: [], changed: [] };
      for (const [userId, change] of users) {
        if (change === 'left') {
          diff.left.push(userId);
          continue;
        }
        const state = states.get(userId)!;
        if (isVisible(state)) diff[change].push(state);
      }
      if (diff.joined.length + diff.left.length + diff.changed.length === 0) continue;
      const frame = encodeFrame({ event: BuiltinEvent.RoomPresence, room, data: diff });
      await this.hub.publish([roomPresenceChannel(room)], frame, []);
      this.hub.metrics.presenceDiffs.inc();
    }
  }

  /** Keeps this node's connections alive in the engine. */
  private async refresh(): Promise<void> {
    const now = Date.now();
    const entries = [];
    for (const connection of this.hub.connections.list()) {
      const { userId } = connection;
      if (userId !== undefined) entries.push(this.entryOf(connection, userId, now));
    }
    if (entries.length > 0) await this.engine.presence.refresh(entries);
  }

  /** Announces users gone offline, and departures whose delay has run out. */
  private async sweep(): Promise<void> {
    const options = this.options as Required<PresenceOptions>;
    const now = Date.now();
    for (const record of await this.engine.presence.expire(now, options.offlineDelay)) {
      await this.announce(record.userId, record, undefined);
    }
    for (const [key, { room, userId, due }] of this.pendingLeaves) {
      if (due > now) continue;
      this.pendingLeaves.delete(key);
      if (!(await this.engine.rooms.roomsOf(userId)).includes(room)) {
        this.batcher!.record(room, userId, 'left');
      }
    }
  }

  private arrivalOf(connection: RealtimeConnection): Promise<unknown> {
    return this.arrivals.get(connection) ?? Promise.resolve();
  }

  private entryOf(connection: RealtimeConnection, userId: string, now: number) {
    const { timeout } = this.options as Required<PresenceOptions>;
    return {
      userId,
      connectionId: connection.id,
      nodeId: this.hub.nodeId,
      expiresAt: now + timeout,
    };
  }

  private require(): Required<PresenceOptions> {
    if (!this.options)
      throw new Error('nest-realtime: presence is off (option "presence" is false)');
    return this.options;
  }

  private report(what: string, error: unknown): void {
    logFailure(this.logger, `presence ${what} failed`, error);
  }
}

function presenceFrame(state: PresenceState): OutboundFrame {
  return encodeFrame({ event: BuiltinEvent.Presence, data: state });
}

function leaveKey(room: string, userId: string): string {
  return `${room}\u0000${userId}`;
}
