import {
  RealtimeClientError,
  type MessageListener,
  type MessageMeta,
  type PresenceState,
  type RoomInfo,
} from './client-types.js';
import { Listeners } from './listeners.js';

/**
 * How to join a room.
 *
 * @example
 * ```ts
 * await client.join('chat:1', { recover: true, presence: true, latest: 20 });
 * ```
 */
export interface JoinOptions {
  /**
   * After a reconnect, ask for the messages missed meanwhile (from the last offset
   * seen), so that listeners see every message once, in order; when the server
   * cannot, the subscription's `onResync` listeners are told. Default false: the
   * room is re-joined, without its missed messages.
   */
  recover?: boolean;
  /** Follow the room's members: `members` and `onMembers`. Default false. */
  presence?: boolean;
  /** On the first join, the room's last `latest` kept messages first. */
  latest?: number;
}

/** What a subscription needs of its client. */
interface SubscriptionOwner {
  leaveRoom(subscription: RoomSubscription<any>): Promise<boolean>;
}

/** A room diff of `rt:room-presence`. */
interface RoomPresenceDiff {
  joined?: PresenceState[];
  changed?: PresenceState[];
  left?: string[];
}

/**
 * A room this client is in, kept across reconnects: after each reconnect the client
 * joins it again (from its last offset, with `recover`). Room messages reach both
 * the client's listeners and the subscription's.
 *
 * @example
 * ```ts
 * const room = client.subscribe('chat:1', { recover: true, presence: true, latest: 20 });
 * room.on('chat', (m) => render(m));             // before the join: the latest 20 come too
 * await room.ready;
 * room.onResync(() => reloadHistory());          // the server could not fill a gap
 * room.onMembers((members) => renderMembers([...members.values()]));
 * await room.leave();
 * ```
 */
export class RoomSubscription<Events extends Record<string, unknown> = Record<string, any>> {
  /** The latest join reply (the first join's, then each re-join's). */
  info: RoomInfo | undefined;
  /** Resolves once the server answered the first join; rejects if it refused it, or the room was left first. */
  readonly ready: Promise<this>;
  private settleReady!: (subscription: this) => void;
  private failReady!: (error: Error) => void;
  private epoch: string | undefined;
  private offset = 0;
  /** Offsets (of `ownEpoch`) of this client's own messages sent without echo, not yet passed. */
  private own: Set<number> | undefined;
  private ownEpoch: string | undefined;
  /** The epoch the resync listeners were last told of. */
  private resyncedEpoch: string | undefined;
  private active = true;
  private readonly memberMap = new Map<string, PresenceState>();
  private readonly messageListeners = new Map<string, Listeners<[unknown, MessageMeta]>>();
  private readonly resyncListeners = new Listeners<[RoomInfo]>();
  private readonly memberListeners = new Listeners<[ReadonlyMap<string, PresenceState>]>();
  private readonly endListeners = new Listeners<[RealtimeClientError | undefined]>();

  /** @internal */
  constructor(
    readonly name: string,
    /** @internal */ readonly options: Readonly<JoinOptions>,
    private readonly owner: SubscriptionOwner,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => undefined); // observed by whoever awaits it
  }

  /** The last message seen: its epoch and offset (`undefined` before the first join reply). */
  get position(): { epoch: string; offset: number } | undefined {
    return this.epoch === undefined ? undefined : { epoch: this.epoch, offset: this.offset };
  }

  /** Whether the client still keeps this room (false after `leave`, or a failed re-join). */
  get joined(): boolean {
    return this.active;
  }

  /** The room's present users by id, kept up to date (with `presence: true`). */
  get members(): ReadonlyMap<string, PresenceState> {
    return this.memberMap;
  }

  /** Listens to one event of this room's messages; returns the function that stops. */
  on<E extends keyof Events & string>(event: E, listener: MessageListener<Events[E]>): () => void {
    let listeners = this.messageListeners.get(event);
    if (!listeners) this.messageListeners.set(event, (listeners = new Listeners()));
    return listeners.add(listener as MessageListener);
  }

  /**
   * Called when a re-join could not recover what was missed (`recovered: false`: the
   * server restarted without its history, or too much was missed): the app should
   * fetch the room's state again. Live messages go on meanwhile.
   */
  onResync(listener: (info: RoomInfo) => void): () => void {
    return this.resyncListeners.add(listener);
  }

  /** Called with the whole member map after each change (with `presence: true`). */
  onMembers(listener: (members: ReadonlyMap<string, PresenceState>) => void): () => void {
    return this.memberListeners.add(listener);
  }

  /**
   * Called once when the subscription ends: with no error after `leave`, or with
   * the error of a join the server refused, or `CLOSED` when the client stopped.
   */
  onEnd(listener: (error: RealtimeClientError | undefined) => void): () => void {
    return this.endListeners.add(listener);
  }

  /** Leaves the room; resolves with whether this connection was in it. */
  leave(): Promise<boolean> {
    return this.owner.leaveRoom(this);
  }

  /** @internal What to send to join (again): `since` once a position is known and recovery asked. */
  joinData(): Record<string, unknown> {
    const data: Record<string, unknown> = { room: this.name };
    if (this.options.presence) data.presence = true;
    if (this.options.recover && this.epoch !== undefined) {
      data.since = { epoch: this.epoch, offset: this.offset };
    } else if (this.info === undefined && this.options.latest !== undefined) {
      data.latest = this.options.latest;
    }
    return data;
  }

  /**
   * @internal Whether a room message is new: one at or before the last offset of
   * the same epoch was seen already and is dropped.
   */
  accept(meta: MessageMeta): boolean {
    if (meta.offset === undefined || meta.epoch === undefined) return true;
    if (meta.epoch === this.epoch && meta.offset <= this.offset) return false;
    if (this.epoch !== undefined && meta.epoch !== this.epoch && this.info) {
      // A live message of another epoch: the room's history was lost (a Redis or
      // server restart) while this client stayed; what came between is unknown.
      this.resync({ ...this.info, epoch: meta.epoch, offset: meta.offset - 1, recovered: false });
    }
    const mine = this.ownEpoch === meta.epoch && this.own!.has(meta.offset);
    this.advance(meta.epoch, meta.offset);
    return !mine;
  }

  /**
   * @internal A message this client published without echo: a recovery may bring
   * it (its offset is past the last one seen), and it is dropped then.
   */
  skipOwn(epoch: string, offset: number): void {
    if (epoch === this.epoch && offset <= this.offset) return; // passed already
    if (epoch !== this.ownEpoch) {
      this.own = new Set();
      this.ownEpoch = epoch;
    }
    this.own!.add(offset);
    // Bounded: past 1000 unseen own messages, the oldest is forgotten.
    if (this.own!.size > 1_000) this.own!.delete(this.own!.values().next().value!);
  }

  /** Moves the position, forgetting own offsets it passes. */
  private advance(epoch: string, offset: number): void {
    this.epoch = epoch;
    this.offset = offset;
    if (this.own === undefined) return;
    if (epoch !== this.ownEpoch) {
      this.own = this.ownEpoch = undefined;
      return;
    }
    for (const passed of this.own) if (passed <= offset) this.own.delete(passed);
  }

  /** @internal Hands a room message to this subscription's listeners. */
  dispatch(data: unknown, meta: MessageMeta): void {
    this.messageListeners.get(meta.event)?.emit(data, meta);
  }

  /** @internal A join reply, first or again. */
  joinedWith(info: RoomInfo, again: boolean): void {
    this.info = info;
    if (info.epoch !== this.epoch || info.offset > this.offset)
      this.advance(info.epoch, info.offset);
    if (info.members) {
      this.memberMap.clear();
      for (const member of info.members) this.memberMap.set(member.userId, member);
      this.memberListeners.emit(this.memberMap);
    }
    if (again && info.recovered === false) this.resync(info);
    this.settleReady(this);
  }

  /**
   * @internal `rt:resync`: the server lost messages of this room (its node was cut off
   * from the others) and goes on after `epoch`/`offset`; the listeners hear of it.
   */
  lost({ epoch, offset }: Record<string, unknown>): void {
    if (typeof epoch !== 'string' || !Number.isSafeInteger(offset) || !this.info) return;
    this.advance(epoch, offset as number);
    this.resyncedEpoch = undefined; // a gap of its own, even within an epoch already told of
    this.resync({ ...this.info, epoch, offset: offset as number, recovered: false });
  }

  /** Tells the resync listeners, once per epoch (a re-join and a live message may both see it). */
  private resync(info: RoomInfo): void {
    if (!this.options.recover || info.epoch === this.resyncedEpoch) return;
    this.resyncedEpoch = info.epoch;
    this.resyncListeners.emit(info);
  }

  /** @internal An `rt:room-presence` diff of this room. */
  applyDiff(diff: RoomPresenceDiff): void {
    for (const state of [...listOf(diff.joined), ...listOf(diff.changed)]) {
      if (typeof state?.userId === 'string') this.memberMap.set(state.userId, state);
    }
    for (const userId of listOf(diff.left)) this.memberMap.delete(userId);
    this.memberListeners.emit(this.memberMap);
  }

  /** @internal The subscription is over (left, or its re-join was refused). */
  end(error?: RealtimeClientError): void {
    if (!this.active) return;
    this.active = false;
    this.failReady(
      error ?? new RealtimeClientError('CLOSED', `left "${this.name}" before it was joined`),
    );
    this.endListeners.emit(error);
  }
}

/** A list from the server, or none when it is not one. */
function listOf<T>(value: readonly T[] | undefined): readonly T[] {
  return Array.isArray(value) ? value : [];
}
