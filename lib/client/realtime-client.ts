// The client imports nothing from Nest or Node: it runs in browsers as it is.
import { CloseCode, BuiltinEvent, MAX_TIMER_DELAY } from '../protocol/index.js';
import {
  backoffDelay,
  resolveReconnectOptions,
  type ReconnectOptions,
  type ResolvedReconnectOptions,
} from './backoff.js';
import {
  RealtimeClientError,
  type AnswersOf,
  type CallsOf,
  type ClientState,
  type ConnectedInfo,
  type EventsOf,
  type MessageListener,
  type MessageMeta,
  type PresenceState,
  type RealtimeSchema,
  type RequestsOf,
  type RoomInfo,
  type StateChange,
  type WebSocketConstructor,
  type WebSocketLike,
} from './client-types.js';
import { Listeners } from './listeners.js';
import { RoomSubscription, type JoinOptions } from './room-subscription.js';

/**
 * Options of {@link RealtimeClient}.
 *
 * @example
 * ```ts
 * import { WebSocket } from 'ws';
 * const client = new RealtimeClient('ws://localhost:3000/ws', {
 *   WebSocket,
 *   requestTimeout: 5_000,
 *   reconnect: { maxDelay: 30_000 },
 *   offlineQueue: 500,
 * });
 * ```
 */
export interface RealtimeClientOptions {
  /** The WebSocket constructor; defaults to `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** How long a request waits for its reply, in ms, queued time included. Default 10000. */
  requestTimeout?: number;
  /** Requests that may wait for replies at once (sent or queued); more are refused. Default 1000. */
  maxPendingRequests?: number;
  /** How to reconnect, or `false` to stop at the first close. Default: on, see {@link ReconnectOptions}. */
  reconnect?: ReconnectOptions | false;
  /** How long an attempt may take from the socket's creation to `rt:connected`, in ms. Default 10000. */
  connectTimeout?: number;
  /**
   * Frames (`emit`, `request`, `publish`, `call`, ...) kept while the client is not
   * connected, sent in order once it is; past this many, new ones fail with
   * `OFFLINE_QUEUE_FULL`. 0 refuses every frame while offline. Default 100.
   */
  offlineQueue?: number;
}

/** A frame waiting for its reply (`id` once sent), or for the connection (no `id`). */
interface Pending {
  readonly resolve: (value: any) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  id?: number;
}

/** A frame waiting in the offline queue: its JSON, and its reply's waiter if it wants one. */
interface Queued {
  readonly text: string;
  readonly reply?: Pending;
}

interface ServerFrame {
  event: string;
  data?: any;
  id?: string | number;
  room?: string;
  offset?: number;
  epoch?: string;
  ack?: string;
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

/** The built-in events a listener may follow with `on`, beside the app's. */
interface BuiltinServerEvents {
  'rt:error': { code: string; message: string; event?: string };
  'rt:presence': PresenceState;
  'rt:room-presence': { joined: PresenceState[]; changed: PresenceState[]; left: string[] };
}

type ServerEvents<S> = EventsOf<S> & BuiltinServerEvents;

/** The query parameters of the protocol features this client handles (docs/protocol.md). */
const FEATURES = 'rt-batch=1&rt-ping=1&rt-refuse=close';
/** Close codes after which the client does not reconnect by itself (docs/protocol.md). */
const FINAL_CODES = new Set([1000, 1002, 1003, 1007, 1008, 1010]);
/** A connection ended by 4401 is renewed at once only if it lasted this long, in ms. */
const MIN_LIFE_FOR_RENEWAL = 1_000;
/** How many user ids one `rt:watch` frame may carry. */
const WATCH_CHUNK = 1_000;

/**
 * The nest-realtime client for browsers and Node (docs/client.md): one WebSocket
 * that reconnects by itself with backoff, re-joins its rooms and recovers what it
 * missed, queues what is sent while offline, and types events, requests and RPC.
 *
 * @example
 * ```ts
 * const client = new RealtimeClient('ws://localhost:3000/ws?token=abc');
 * client.onState((state) => console.log(state)); // connecting, connected, reconnecting, ...
 * const room = await client.join('lobby', { recover: true });
 * room.on('chat', (data) => console.log(data.text));
 * await client.publish('lobby', 'chat', { text: 'hello' });
 * const answer = await client.request('my-event', { any: 'payload' });
 * await client.close();
 * ```
 */
export class RealtimeClient<S extends RealtimeSchema = RealtimeSchema> {
  /** Resolves the first time the client is connected; rejects if it stops before. */
  readonly ready: Promise<ConnectedInfo>;
  /** Resolves with the final close code once the client has stopped for good. */
  readonly closed: Promise<number>;

  private readonly Socket: WebSocketConstructor;
  private readonly requestTimeout: number;
  private readonly maxPendingRequests: number;
  private readonly reconnectOptions: ResolvedReconnectOptions | false;
  private readonly connectTimeout: number;
  private readonly maxQueued: number;

  private socket: WebSocketLike | undefined;
  private currentState: ClientState = 'connecting';
  /** `rt:connected` of the current socket, until it goes. */
  private session: ConnectedInfo | undefined;
  /** Failed attempts in a row. */
  private attempt = 0;
  /** Whether an auth refusal was already retried with a fresh URL. */
  private authRetried = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private livenessTimer: ReturnType<typeof setTimeout> | undefined;
  private lastMessageAt = 0;
  /** The close code `close()` asked for. */
  private closeCode: number | undefined;
  /** How long `close()` still waits for the server's answer. */
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the current connection got `rt:connected`. */
  private connectedAt = 0;
  /** How long the connection that ended last had been up, in ms (0: it never was). */
  private lasted = 0;

  private readonly listeners = new Map<string, Listeners<[any, MessageMeta]>>();
  private readonly stateListeners = new Listeners<[ClientState, StateChange]>();
  private readonly presenceListeners = new Listeners<[PresenceState]>();
  private readonly pending = new Map<number, Pending>();
  private readonly queue: Queued[] = [];
  private readonly answers = new Map<string, (params: any) => unknown>();
  private readonly rooms = new Map<string, RoomSubscription<any>>();
  private readonly watched = new Set<string>();
  private status: { status: string; meta: Record<string, unknown> | null } | undefined;
  /** Ids of acknowledged messages already handled. */
  private readonly acked = new Set<string>();
  private nextId = 1;
  private settleReady!: (info: ConnectedInfo) => void;
  private failReady!: (error: Error) => void;
  private settleClosed!: (code: number) => void;

  /**
   * @param url the server's WebSocket URL, or a function that gives it before each
   * attempt (so that a reconnect carries a fresh token).
   */
  constructor(
    private readonly url: string | (() => string | Promise<string>),
    options: RealtimeClientOptions = {},
  ) {
    this.Socket = options.WebSocket ?? globalThis.WebSocket;
    this.requestTimeout = checked(
      'requestTimeout',
      options.requestTimeout,
      10_000,
      1,
      MAX_TIMER_DELAY,
    );
    this.maxPendingRequests = checked('maxPendingRequests', options.maxPendingRequests, 1_000, 1);
    this.reconnectOptions =
      options.reconnect === false ? false : resolveReconnectOptions(options.reconnect);
    this.connectTimeout = checked(
      'connectTimeout',
      options.connectTimeout,
      10_000,
      1,
      MAX_TIMER_DELAY,
    );
    this.maxQueued = checked('offlineQueue', options.offlineQueue, 100, 0);
    this.ready = new Promise((resolve, reject) => {
      this.settleReady = resolve;
      this.failReady = reject;
    });
    this.ready.catch(() => undefined); // observed by whoever awaits it
    this.closed = new Promise((resolve) => (this.settleClosed = resolve));
    void this.open();
  }

  /** Where the client is now. */
  get state(): ClientState {
    return this.currentState;
  }

  /** Read through a getter: the state changes under awaits, which narrowing misses. */
  private get stopped(): boolean {
    return this.currentState === 'disconnected';
  }

  /** The current connection's `rt:connected` info, while there is one. */
  get connection(): ConnectedInfo | undefined {
    return this.session;
  }

  /** Frames waiting in the offline queue. */
  get queued(): number {
    return this.queue.length;
  }

  // -- listening ----------------------------------------------------------------

  /** Listens to an event (the app's, or `rt:error`, ...); returns the function that stops. */
  on<E extends keyof ServerEvents<S> & string>(
    event: E,
    listener: MessageListener<ServerEvents<S>[E]>,
  ): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Listeners()));
    const off = set.add(listener);
    return () => {
      off();
      if (set.size === 0 && this.listeners.get(event) === set) this.listeners.delete(event);
    };
  }

  /**
   * Listens to state changes; called on each change, and again for each new wait
   * while reconnecting. Returns the function that stops.
   */
  onState(listener: (state: ClientState, change: StateChange) => void): () => void {
    return this.stateListeners.add(listener);
  }

  /**
   * Listens to presence: watched users' changes, this user's own status, and the
   * states a re-watch after a reconnect brings.
   */
  onPresence(listener: (state: PresenceState) => void): () => void {
    return this.presenceListeners.add(listener);
  }

  // -- sending ------------------------------------------------------------------

  /**
   * Sends a frame that asks for no reply; while not connected it waits in the
   * offline queue.
   *
   * @throws RealtimeClientError `CLOSED` once the client has stopped,
   * `OFFLINE_QUEUE_FULL` when the queue is full; a TypeError for data JSON cannot hold.
   */
  emit<E extends keyof RequestsOf<S> & string>(event: E, data?: RequestsOf<S>[E]['data']): void {
    if (this.stopped) throw closedError();
    const text = JSON.stringify({ event, data });
    if (this.currentState === 'connected') this.socket!.send(text);
    else if (this.queue.length >= this.maxQueued) throw queueFullError(this.maxQueued);
    else this.queue.push({ text });
  }

  /**
   * Sends a frame with an id (an emit with an acknowledgement) and resolves with the
   * reply's data; rejects with its error, or `TIMEOUT`, `CONNECTION_LOST`, `CLOSED`,
   * `OFFLINE_QUEUE_FULL`, `TOO_MANY_REQUESTS`.
   */
  async request<E extends keyof RequestsOf<S> & string>(
    event: E,
    data?: RequestsOf<S>[E]['data'],
    timeout = this.requestTimeout,
  ): Promise<RequestsOf<S>[E]['result']> {
    return this.ask(event, data, checked('timeout', timeout, 0, 1, MAX_TIMER_DELAY), false);
  }

  /**
   * Calls a method the server registered (`RpcService.register`); resolves with its
   * result, rejects with its error code (`RPC_UNKNOWN_METHOD`, `RPC_TIMEOUT`, the
   * app's own, or one of the client's).
   */
  async call<M extends keyof CallsOf<S> & string>(
    method: M,
    params?: CallsOf<S>[M]['params'],
    timeout?: number,
  ): Promise<CallsOf<S>[M]['result']> {
    return this.ask(
      BuiltinEvent.Call,
      { method, params },
      checked('timeout', timeout, this.requestTimeout, 1, MAX_TIMER_DELAY),
      false,
    );
  }

  /**
   * Answers the server's calls of `method` (`RpcService.call`) with what `handler`
   * returns; a thrown `RealtimeClientError` keeps its code. Returns the function that
   * stops answering.
   */
  answer<M extends keyof AnswersOf<S> & string>(
    method: M,
    handler: (
      params: AnswersOf<S>[M]['params'],
    ) => AnswersOf<S>[M]['result'] | Promise<AnswersOf<S>[M]['result']>,
  ): () => void {
    this.answers.set(method, handler);
    return () => {
      if (this.answers.get(method) === handler) this.answers.delete(method);
    };
  }

  // -- rooms --------------------------------------------------------------------

  /**
   * Joins a room and keeps it: after a reconnect the client joins it again, and with
   * `recover` asks for what it missed. Returns the subscription at once, so that
   * listeners are in place before the first messages (`latest`); its `ready`
   * resolves once the server answered. Subscribing to a room kept already gives the
   * same subscription.
   *
   * @throws RealtimeClientError `CLOSED` once the client has stopped.
   */
  subscribe(room: string, options: JoinOptions = {}): RoomSubscription<EventsOf<S>> {
    if (this.stopped) throw closedError();
    let subscription = this.rooms.get(room);
    if (subscription) return subscription;
    subscription = new RoomSubscription<EventsOf<S>>(room, { ...options }, this);
    this.rooms.set(room, subscription);
    if (this.session) {
      this.joinRoom(subscription).catch((error: RealtimeClientError) => this.unanswered(error));
    }
    return subscription;
  }

  /** {@link subscribe}, resolved once the server answered the first join. */
  async join(room: string, options: JoinOptions = {}): Promise<RoomSubscription<EventsOf<S>>> {
    return this.subscribe(room, options).ready;
  }

  /** The subscription of a room this client keeps, if any. */
  room(name: string): RoomSubscription<EventsOf<S>> | undefined {
    return this.rooms.get(name);
  }

  /**
   * Leaves a room (one the client keeps, or one the server joined it to); resolves
   * with whether the connection was in it. While offline it only forgets the room
   * (the next connection will not be in it) and resolves `true` if it kept it.
   */
  async leave(room: string): Promise<boolean> {
    const subscription = this.rooms.get(room);
    if (subscription) return this.leaveRoom(subscription);
    if (!this.session) return false;
    return this.sendLeave(room);
  }

  /** @internal Used by {@link RoomSubscription.leave}. */
  async leaveRoom(subscription: RoomSubscription<any>): Promise<boolean> {
    if (this.rooms.get(subscription.name) !== subscription) return false;
    this.rooms.delete(subscription.name);
    subscription.end();
    if (!this.session) return true; // the next connection will not be in it
    return this.sendLeave(subscription.name);
  }

  private async sendLeave(room: string): Promise<boolean> {
    const reply = await this.ask<{ left: boolean }>(
      BuiltinEvent.Leave,
      { room },
      this.requestTimeout,
      true,
    );
    return reply.left;
  }

  /**
   * Publishes to a room this client is in (not echoed back unless `echo`); resolves
   * with the message's place in the room's stream. Without echo, the room's
   * subscription notes that offset, so that a recovery does not hand the sender its
   * own message.
   */
  async publish<E extends keyof EventsOf<S> & string>(
    room: string,
    event: E,
    data?: EventsOf<S>[E],
    options: { echo?: boolean } = {},
  ): Promise<{ epoch: string; offset: number }> {
    const { epoch, offset } = await this.ask<{ epoch: string; offset: number }>(
      BuiltinEvent.Publish,
      { room, event, data, echo: options.echo },
      this.requestTimeout,
      false,
    );
    if (!options.echo) this.rooms.get(room)?.skipOwn(epoch, offset);
    return { epoch, offset };
  }

  // -- presence -----------------------------------------------------------------

  /**
   * Sets this user's status (`online`, `away`, `busy`, `invisible`) for all their
   * connections; the client sets it again after each reconnect.
   */
  async setStatus(
    status: PresenceState['status'],
    meta: Record<string, unknown> | null = null,
  ): Promise<PresenceState> {
    const previous = this.status;
    this.status = { status, meta };
    try {
      return await this.ask(BuiltinEvent.Status, { status, meta }, this.requestTimeout, false);
    } catch (error) {
      // A status refused, or never sent, is not set again after a reconnect.
      if (neverApplied(error) && this.status.status === status) this.status = previous;
      throw error;
    }
  }

  /**
   * Follows these users' presence (`onPresence`) and resolves with their states; the
   * client watches them again after each reconnect.
   */
  async watch(users: readonly string[]): Promise<PresenceState[]> {
    const added = users.filter((user) => !this.watched.has(user));
    for (const user of added) this.watched.add(user);
    try {
      const reply = await this.ask<{ statuses: PresenceState[] }>(
        BuiltinEvent.Watch,
        { users },
        this.requestTimeout,
        false,
      );
      return reply.statuses;
    } catch (error) {
      // Users refused (a limit, bad ids), or never asked for, are not watched again either.
      if (neverApplied(error)) for (const user of added) this.watched.delete(user);
      throw error;
    }
  }

  /** Stops following these users; resolves with how many the connection still watches. */
  async unwatch(users: readonly string[]): Promise<number> {
    for (const user of users) this.watched.delete(user);
    const { watching } = await this.ask<{ watching: number }>(
      BuiltinEvent.Unwatch,
      { users },
      this.requestTimeout,
      false,
    );
    return watching;
  }

  /** These users' current states, in the same order. */
  async statuses(users: readonly string[]): Promise<PresenceState[]> {
    const reply = await this.ask<{ statuses: PresenceState[] }>(
      BuiltinEvent.Statuses,
      { users },
      this.requestTimeout,
      false,
    );
    return reply.statuses;
  }

  /** The users present in a room this client is in. */
  async members(room: string): Promise<PresenceState[]> {
    const reply = await this.ask<{ members: PresenceState[] }>(
      BuiltinEvent.Members,
      { room },
      this.requestTimeout,
      false,
    );
    return reply.members;
  }

  // -- life ---------------------------------------------------------------------

  /**
   * Stops for good: no reconnect; queued frames fail with `CLOSED`, frames waiting
   * for replies with `CONNECTION_LOST`. Resolves once the socket has closed.
   */
  close(code = 1000, reason = ''): Promise<number> {
    if (code !== 1000 && !(code >= 3000 && code <= 4999)) {
      throw new RangeError(`close code must be 1000 or from 3000 to 4999, got ${code}`);
    }
    if (!this.stopped) {
      this.closeCode = code;
      const socket = this.socket;
      // The socket's close event fails what waits for replies and settles `closed`.
      this.stop(code, reason, socket);
      if (socket) {
        shut(socket, code, reason);
        // A server gone silent never answers the close: do not wait for it long.
        this.closeTimer = setTimeout(() => {
          terminate(socket);
          this.lost(socket, 1006, 'no answer to the close');
        }, CLOSE_WAIT);
      } else {
        this.settleClosed(code);
      }
    }
    return this.closed;
  }

  private async open(): Promise<void> {
    this.retryTimer = undefined;
    if (this.stopped) return;
    let url: string;
    try {
      url = typeof this.url === 'string' ? this.url : await this.url();
    } catch (error) {
      // Expected while the server is away (its token endpoint with it): an attempt that
      // failed, told to onState with the reason, not an error to report.
      const reason = error instanceof Error ? error.message : String(error);
      if (!this.stopped) this.failed(1006, `the URL function failed: ${reason}`);
      return;
    }
    if (this.stopped) return;
    let socket: WebSocketLike;
    try {
      socket = new this.Socket(`${url}${url.includes('?') ? '&' : '?'}${FEATURES}`);
    } catch (error) {
      this.stop(1006, error instanceof Error ? error.message : String(error));
      this.settleClosed(1006);
      return;
    }
    this.socket = socket;
    this.connectTimer = setTimeout(
      () => this.drop(socket, `no rt:connected within ${this.connectTimeout} ms`),
      this.connectTimeout,
    );
    socket.addEventListener('message', (event) => {
      if (socket !== this.socket || this.stopped) return;
      this.lastMessageAt = Date.now();
      this.receive(event.data);
    });
    socket.addEventListener('close', (event) => this.lost(socket, event.code, event.reason ?? ''));
    // A failed connection is reported by the close event that follows; in Node an
    // 'error' with no listener would be thrown.
    socket.addEventListener('error', () => undefined);
  }

  /** `rt:connected`: join the rooms again, watch again, then flush the queue. */
  private async connected(socket: WebSocketLike, info: ConnectedInfo): Promise<void> {
    if (this.session || !isConnectedInfo(info)) return; // once per connection, and well formed
    clearTimeout(this.connectTimer);
    this.session = info;
    this.connectedAt = Date.now();
    this.authRetried = false;
    this.watchLiveness(socket, info.pingInterval + info.pongTimeout);
    const steps: Promise<unknown>[] = [...this.rooms.values()].map((s) => this.joinRoom(s));
    const users = [...this.watched];
    for (let i = 0; i < users.length; i += WATCH_CHUNK) {
      const chunk = users.slice(i, i + WATCH_CHUNK);
      steps.push(
        this.ask<{ statuses: PresenceState[] }>(
          BuiltinEvent.Watch,
          { users: chunk },
          this.requestTimeout,
          true,
        ).then(({ statuses }) => statuses.forEach((state) => this.presenceListeners.emit(state))),
      );
    }
    if (this.status)
      steps.push(this.ask(BuiltinEvent.Status, this.status, this.requestTimeout, true));
    const outcomes = await Promise.allSettled(steps);
    if (socket !== this.socket || this.stopped) return;
    // A step without an answer leaves the connection's state unknown: start again.
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected' && outcome.reason.code === 'TIMEOUT') {
        this.drop(socket, `no answer while resuming (${outcome.reason.message})`);
        return;
      }
    }
    // The queue goes out before anything a listener sends on `connected`.
    this.currentState = 'connected';
    for (const queued of this.queue.splice(0)) this.transmit(queued);
    this.settleReady(info);
    this.stateListeners.emit('connected', {});
  }

  /** Sends a (re-)join and applies its reply; a refused re-join ends the subscription. */
  private async joinRoom(subscription: RoomSubscription<any>): Promise<void> {
    const again = subscription.info !== undefined;
    try {
      const info = await this.ask<RoomInfo>(
        BuiltinEvent.Join,
        subscription.joinData(),
        this.requestTimeout,
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

  /**
   * One frame asking for a reply. `now` sends it on the current connection even
   * before the client counts as connected (the re-joins that come first); otherwise
   * it waits in the queue while the client is not connected.
   */
  private ask<T>(event: string, data: unknown, timeout: number, now: boolean): Promise<T> {
    if (this.stopped) return Promise.reject(closedError());
    // The re-joins of a reconnect are bounded by the rooms kept, not by this.
    if (!now && this.pending.size + this.queue.length >= this.maxPendingRequests) {
      return Promise.reject(
        new RealtimeClientError('TOO_MANY_REQUESTS', 'too many requests waiting'),
      );
    }
    const direct = now ? this.session !== undefined : this.currentState === 'connected';
    if (!direct && (now || this.queue.length >= this.maxQueued)) {
      return Promise.reject(now ? lostError() : queueFullError(this.maxQueued));
    }
    let text: string;
    try {
      text = JSON.stringify({ event, data });
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        resolve,
        reject,
        timer: setTimeout(() => {
          if (pending.id === undefined) this.queue.splice(this.queue.indexOf(queued), 1);
          else this.pending.delete(pending.id);
          reject(new RealtimeClientError('TIMEOUT', `no reply to "${event}" within ${timeout} ms`));
        }, timeout),
      };
      const queued: Queued = { text, reply: pending };
      if (direct) this.transmit(queued);
      else this.queue.push(queued);
    });
  }

  /** Writes a frame to the socket; one that wants a reply gets its id now. */
  private transmit({ text, reply }: Queued): void {
    if (!reply) {
      this.socket!.send(text);
      return;
    }
    reply.id = this.nextId++;
    this.pending.set(reply.id, reply);
    this.socket!.send(`${text.slice(0, -1)},"id":${reply.id}}`);
  }

  // -- receiving ----------------------------------------------------------------

  private receive(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(raw) as ServerFrame;
    } catch {
      return;
    }
    if (isObject(frame)) this.handle(frame as ServerFrame, undefined);
  }

  /**
   * One frame, or each frame of a batch in order: an item without `room` takes the
   * batch's room and place in the room's stream (a one-room batch is one message).
   */
  private handle(frame: ServerFrame, batch: MessageMeta | undefined): void {
    const inherits = frame.room === undefined && batch?.room !== undefined;
    const source = inherits ? batch! : frame;
    const room = source.room;
    const subscription = room === undefined ? undefined : this.rooms.get(room);
    const meta: MessageMeta =
      room === undefined
        ? { event: frame.event }
        : source.offset === undefined
          ? { event: frame.event, room }
          : { event: frame.event, room, offset: source.offset, epoch: source.epoch };
    // A room message seen already (its offset is not past the last one): dropped.
    if (subscription && !inherits && !subscription.accept(meta)) return;
    switch (frame.event) {
      case BuiltinEvent.Connected:
        void this.connected(this.socket!, frame.data as ConnectedInfo);
        return;
      case BuiltinEvent.Ping:
        this.socket!.send(PONG);
        return;
      case BuiltinEvent.Batch:
        if (!Array.isArray(frame.data)) return;
        for (const item of frame.data) if (isObject(item)) this.handle(item as ServerFrame, meta);
        return;
      case BuiltinEvent.Reply:
        if (typeof frame.id === 'number') this.settle(frame.id, frame);
        return;
      case BuiltinEvent.Call:
        if (typeof frame.id === 'string') void this.answerCall(this.socket!, frame.id, frame.data);
        return;
      case BuiltinEvent.Resync:
        if (isObject(frame.data) && typeof frame.data.room === 'string') {
          this.rooms.get(frame.data.room)?.lost(frame.data);
        }
        break;
      case BuiltinEvent.RoomPresence:
        if (isObject(frame.data)) subscription?.applyDiff(frame.data);
        break;
      case BuiltinEvent.Presence:
        if (isObject(frame.data)) this.presenceListeners.emit(frame.data as PresenceState);
        break;
    }
    if (typeof frame.ack === 'string') {
      // Acknowledged only once something took it: until then the server sends it again.
      if (this.listeners.get(frame.event)?.size) {
        this.acknowledge(frame.ack, () => this.dispatch(frame.data, meta, subscription));
      }
    } else {
      this.dispatch(frame.data, meta, subscription);
    }
  }

  private dispatch(
    data: unknown,
    meta: MessageMeta,
    subscription: RoomSubscription<any> | undefined,
  ): void {
    this.listeners.get(meta.event)?.emit(data, meta);
    subscription?.dispatch(data, meta);
  }

  /**
   * A message that asks for an acknowledgement: handled once (a resend carries the
   * same id), acknowledged every time it comes.
   */
  private acknowledge(id: string, handle: () => void): void {
    if (!this.acked.has(id)) {
      this.acked.add(id);
      // Remember a bounded number of ids: the oldest go first.
      if (this.acked.size > 1_000) this.acked.delete(this.acked.values().next().value!);
      handle();
    }
    this.socket!.send(JSON.stringify({ event: BuiltinEvent.Ack, data: { id } }));
  }

  private async answerCall(socket: WebSocketLike, id: string, data: unknown): Promise<void> {
    const { method, params } = (data ?? {}) as { method?: unknown; params?: unknown };
    const handler = typeof method === 'string' ? this.answers.get(method) : undefined;
    let reply: object;
    if (!handler) {
      reply = {
        error: { code: 'RPC_UNKNOWN_METHOD', message: `no answer for "${String(method)}"` },
      };
    } else {
      try {
        reply = { data: (await handler(params)) ?? null };
      } catch (error) {
        const code = error instanceof RealtimeClientError ? error.code : 'INTERNAL_ERROR';
        reply = {
          error: { code, message: error instanceof Error ? error.message : String(error) },
        };
      }
    }
    // The call belonged to its connection: a later one cannot answer it.
    if (socket !== this.socket || socket.readyState !== 1) return;
    let text: string;
    try {
      text = JSON.stringify({ event: BuiltinEvent.Reply, id, ...reply });
    } catch {
      const error = { code: 'INTERNAL_ERROR', message: 'the answer is not JSON' };
      text = JSON.stringify({ event: BuiltinEvent.Reply, id, error });
    }
    socket.send(text);
  }

  private settle(id: number, frame: ServerFrame): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (frame.error) {
      pending.reject(
        new RealtimeClientError(frame.error.code, frame.error.message, frame.error.details),
      );
    } else {
      pending.resolve(frame.data);
    }
  }

  // -- losing and finding the connection -------------------------------------------

  /**
   * Gives up on a socket that went silent: it is closed in the background, and the
   * client goes on as if it had closed (the close frame may never come back).
   */
  private drop(socket: WebSocketLike, reason: string): void {
    if (socket !== this.socket) return;
    if (!terminate(socket)) shut(socket, 4000, reason);
    this.lost(socket, 1006, reason);
  }

  /** A join made while connected got no answer: the connection's state is unknown. */
  private unanswered(error: RealtimeClientError): void {
    if (error.code === 'TIMEOUT' && this.socket) this.drop(this.socket, error.message);
  }

  /**
   * The liveness check: the server sends something (at least `rt:ping`) every
   * `pingInterval`; nothing within `window` ms means the connection is dead. One
   * timer, re-armed for what remains rather than reset on every message.
   */
  private watchLiveness(socket: WebSocketLike, window: number): void {
    this.lastMessageAt = Date.now();
    const check = (): void => {
      const silent = Date.now() - this.lastMessageAt;
      if (silent >= window) this.drop(socket, `no message within ${window} ms`);
      else this.livenessTimer = setTimeout(check, window - silent);
    };
    this.livenessTimer = setTimeout(check, window);
  }

  private lost(socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    clearTimeout(this.connectTimer);
    clearTimeout(this.livenessTimer);
    clearTimeout(this.closeTimer);
    // Backoff starts again only after a connection that lasted: a node that accepts
    // and closes at once is not retried at the first delay forever.
    const options = this.reconnectOptions;
    this.lasted = this.session ? Date.now() - this.connectedAt : 0;
    if (this.session && options && this.lasted >= options.maxDelay) {
      this.attempt = 0;
    }
    this.session = undefined;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(lostError(code));
    }
    this.pending.clear();
    if (this.stopped) {
      this.settleClosed(this.closeCode ?? code); // close() was waiting for this
      return;
    }
    this.failed(code, reason);
  }

  /** A connection or an attempt failed: wait and try again, or stop. */
  private failed(code: number, reason: string): void {
    const options = this.reconnectOptions;
    if (
      options &&
      code === CloseCode.AuthenticationRefused &&
      typeof this.url === 'function' &&
      !this.authRetried
    ) {
      // The credentials may have expired: once, at once, with a freshly made URL.
      this.authRetried = true;
      this.retry(0, { code, reason, delay: 0, attempt: this.attempt });
    } else if (
      options &&
      code === CloseCode.TokenExpired &&
      typeof this.url === 'function' &&
      this.lasted >= MIN_LIFE_FOR_RENEWAL
    ) {
      // The credentials of a connection that lasted expired: at once, with new ones.
      // (New ones that expire at once go through backoff below, not in a loop.)
      this.retry(0, { code, reason, delay: 0, attempt: this.attempt });
    } else if (
      !options ||
      FINAL_CODES.has(code) ||
      code >= CloseCode.Disconnected ||
      this.attempt >= options.maxAttempts
    ) {
      this.stop(code, reason);
      this.settleClosed(code);
    } else {
      const delay = backoffDelay(this.attempt, options);
      this.attempt++;
      this.retry(delay, { code, reason, delay, attempt: this.attempt });
    }
  }

  private retry(delay: number, change: StateChange): void {
    // Armed before the listeners run: one of them may close the client.
    this.retryTimer = setTimeout(() => void this.open(), delay);
    this.currentState = 'reconnecting';
    this.stateListeners.emit('reconnecting', change);
  }

  /**
   * The client stops for good. `closing`, a socket still open, stays current until
   * its close event, which fails the frames waiting for replies.
   */
  private stop(code: number, reason: string, closing?: WebSocketLike): void {
    // Disconnected from the first line: what listeners called below do is refused.
    this.currentState = 'disconnected';
    clearTimeout(this.retryTimer);
    clearTimeout(this.connectTimer);
    clearTimeout(this.livenessTimer);
    this.socket = closing;
    this.session = undefined;
    const error = new RealtimeClientError(
      'CLOSED',
      `the client stopped (${code}${reason ? ` ${reason}` : ''})`,
    );
    for (const { reply } of this.queue.splice(0)) {
      if (!reply) continue;
      clearTimeout(reply.timer);
      reply.reject(error);
    }
    for (const subscription of this.rooms.values()) subscription.end(error);
    this.rooms.clear();
    this.failReady(error);
    this.stateListeners.emit('disconnected', { code, reason });
  }
}

const PONG = JSON.stringify({ event: BuiltinEvent.Pong });
/** How long `close()` waits for the server's answer before it lets the socket go. */
const CLOSE_WAIT = 1_000;

/** Closes a socket; a reason is cut to the 123 bytes a close frame holds. */
function shut(socket: WebSocketLike, code: number, reason: string): void {
  let text = reason.slice(0, 123);
  const encoder = new TextEncoder();
  while (encoder.encode(text).length > 123) text = text.slice(0, -1);
  // A lone high surrogate left by the cut is not valid in a close frame.
  text = text.replace(/[\uD800-\uDBFF]$/, '');
  try {
    socket.close(code, text);
  } catch {
    // a socket that cannot be closed now is one the client no longer uses
  }
}

/** Cuts a socket at once where the implementation can (`ws` in Node); browsers cannot. */
function terminate(socket: WebSocketLike): boolean {
  const cut = (socket as { terminate?: () => void }).terminate;
  if (typeof cut !== 'function') return false;
  cut.call(socket);
  return true;
}

function isConnectedInfo(info: unknown): info is ConnectedInfo {
  const { pingInterval, pongTimeout } = (info ?? {}) as Partial<ConnectedInfo>;
  return (
    typeof pingInterval === 'number' &&
    pingInterval > 0 &&
    typeof pongTimeout === 'number' &&
    pongTimeout > 0
  );
}

function closedError(): RealtimeClientError {
  return new RealtimeClientError('CLOSED', 'the client is closed');
}

function lostError(code?: number): RealtimeClientError {
  const how = code === undefined ? 'is not connected' : `closed (${code})`;
  return new RealtimeClientError('CONNECTION_LOST', `the connection ${how}: no reply`);
}

function queueFullError(size: number): RealtimeClientError {
  return new RealtimeClientError(
    'OFFLINE_QUEUE_FULL',
    `the offline queue holds ${size} frames already`,
  );
}

/** The client's own codes: the server did not answer the request. */
const CLIENT_CODES = new Set([
  'TIMEOUT',
  'CLOSED',
  'CONNECTION_LOST',
  'OFFLINE_QUEUE_FULL',
  'TOO_MANY_REQUESTS',
]);

/** Whether the server answered a request with a refusal. */
function refusedByServer(error: unknown): boolean {
  return error instanceof RealtimeClientError && !CLIENT_CODES.has(error.code);
}

/**
 * Whether a failed request surely changed nothing on the server: refused by it, or
 * never sent. One that timed out or lost its connection may have been applied.
 */
function neverApplied(error: unknown): boolean {
  const code = (error as RealtimeClientError).code;
  return code !== 'TIMEOUT' && code !== 'CONNECTION_LOST';
}

/** An option's value, or its default; a wrong one throws, naming it. */
function checked(
  name: string,
  value: number | undefined,
  fallback: number,
  least: number,
  most = Infinity,
): number {
  if (value === undefined) return fallback;
  const whole = Number.isInteger(value) || value === Infinity;
  if (typeof value !== 'number' || !whole || value < least || value > most) {
    throw new RangeError(
      `${name} must be an integer from ${least} to ${most}, got ${String(value)}`,
    );
  }
  return value;
}

function isObject(value: unknown): value is Record<string, any> {
  return value !== null && typeof value === 'object';
}
