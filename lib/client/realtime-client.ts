// The client imports nothing from Nest or Node: it runs in browsers as it is.
import { BuiltinEvent } from '../protocol/events.js';
import {
  checkedTimeout,
  resolveClientOptions,
  type RealtimeClientOptions,
  type ResolvedClientOptions,
} from './client-options.js';
import { ClientPresence } from './client-presence.js';
import { ClientRequests, type RequestLink } from './client-requests.js';
import { ClientRooms } from './client-rooms.js';
import {
  RealtimeClientError,
  type AnswersOf,
  type CallsOf,
  type ClientState,
  type ConnectedInfo,
  type EventsOf,
  type MessageListener,
  type PresenceState,
  type RealtimeSchema,
  type RequestsOf,
  type ServerEvents,
  type StateChange,
} from './client-types.js';
import { InboundDispatch } from './inbound-dispatch.js';
import { Listeners } from './listeners.js';
import { reconnectDecision } from './reconnect-policy.js';
import type { JoinOptions, RoomSubscription } from './room-subscription.js';
import { SocketSession, type SessionEvents } from './socket-session.js';

/**
 * The nest-realtime client for browsers and Node (docs/client.md): one WebSocket
 * that reconnects by itself with backoff, re-joins its rooms and recovers what it
 * missed, queues what is sent while offline, and types events, requests and RPC.
 * A facade: each connection attempt is a {@link SocketSession}, what follows its end
 * is {@link reconnectDecision}'s, and frames go out through {@link ClientRequests} and
 * come in through {@link InboundDispatch}; rooms and presence have their own parts.
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

  private readonly options: ResolvedClientOptions;
  private readonly requests: ClientRequests;
  private readonly rooms: ClientRooms;
  private readonly presence: ClientPresence;
  private readonly inbound: InboundDispatch;
  private readonly stateListeners = new Listeners<[ClientState, StateChange]>();

  /** The current connection attempt, until it ends (or, after `close()`, until it closed). */
  private socket: SocketSession | undefined;
  private currentState: ClientState = 'connecting';
  /** Failed attempts in a row. */
  private attempt = 0;
  /** Whether an auth refusal was already retried with a fresh URL. */
  private authRetried = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  /** The close code `close()` asked for. */
  private closeCode: number | undefined;
  private settleReady!: (info: ConnectedInfo) => void;
  private failReady!: (error: Error) => void;
  private settleClosed!: (code: number) => void;

  private readonly sessionEvents: SessionEvents = {
    message: (session, data) => {
      if (!this.stopped) this.inbound.receive(session, data);
    },
    lost: (session, code, reason) => this.lost(session, code, reason),
  };

  /**
   * @param url the server's WebSocket URL, or a function that gives it before each
   * attempt (so that a reconnect carries a fresh token).
   */
  constructor(
    private readonly url: string | (() => string | Promise<string>),
    options: RealtimeClientOptions = {},
  ) {
    this.options = resolveClientOptions(options);
    const link: RequestLink = { state: () => this.currentState, session: () => this.handshaken };
    this.requests = new ClientRequests(this.options, link);
    this.rooms = new ClientRooms(this.requests, link, (reason) => this.socket?.drop(reason));
    this.presence = new ClientPresence(this.requests);
    this.inbound = new InboundDispatch({
      connected: (session, info) => void this.connected(session, info),
      reply: (id, reply) => this.requests.settle(id, reply),
      presence: (state) => this.presence.notify(state),
      room: (name) => this.rooms.get(name),
    });
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

  /** The current connection once it said `rt:connected`, while the client goes on. */
  private get handshaken(): SocketSession | undefined {
    return this.stopped || !this.socket?.info ? undefined : this.socket;
  }

  /** The current connection's `rt:connected` info, while there is one. */
  get connection(): ConnectedInfo | undefined {
    return this.handshaken?.info;
  }

  /** Frames waiting in the offline queue. */
  get queued(): number {
    return this.requests.queued;
  }

  // -- listening ----------------------------------------------------------------

  /** Listens to an event (the app's, or `rt:error`, ...); returns the function that stops. */
  on<E extends keyof ServerEvents<S> & string>(
    event: E,
    listener: MessageListener<ServerEvents<S>[E]>,
  ): () => void {
    return this.inbound.on(event, listener);
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
    return this.presence.on(listener);
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
    this.requests.emit(event, data);
  }

  /**
   * Sends a frame with an id (an emit with an acknowledgement) and resolves with the
   * reply's data; rejects with its error, or `TIMEOUT`, `CONNECTION_LOST`, `CLOSED`,
   * `OFFLINE_QUEUE_FULL`, `TOO_MANY_REQUESTS`.
   */
  async request<E extends keyof RequestsOf<S> & string>(
    event: E,
    data?: RequestsOf<S>[E]['data'],
    timeout?: number,
  ): Promise<RequestsOf<S>[E]['result']> {
    const wait = checkedTimeout('timeout', timeout, this.options.requestTimeout);
    return this.requests.ask(event, data, wait);
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
    const wait = checkedTimeout('timeout', timeout, this.options.requestTimeout);
    return this.requests.ask(BuiltinEvent.Call, { method, params }, wait);
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
    return this.inbound.answer(method, handler);
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
    return this.rooms.subscribe(room, options);
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
    return this.rooms.leave(room);
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
    return this.rooms.publish(room, event, data, options.echo);
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
    return this.presence.setStatus(status, meta);
  }

  /**
   * Follows these users' presence (`onPresence`) and resolves with their states; the
   * client watches them again after each reconnect.
   */
  async watch(users: readonly string[]): Promise<PresenceState[]> {
    return this.presence.watch(users);
  }

  /** Stops following these users; resolves with how many the connection still watches. */
  async unwatch(users: readonly string[]): Promise<number> {
    return this.presence.unwatch(users);
  }

  /** These users' current states, in the same order. */
  async statuses(users: readonly string[]): Promise<PresenceState[]> {
    return this.presence.statuses(users);
  }

  /** The users present in a room this client is in. */
  async members(room: string): Promise<PresenceState[]> {
    return this.presence.members(room);
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
      // The session's end fails what waits for replies and settles `closed`.
      this.stop(code, reason);
      if (this.socket) this.socket.close(code, reason);
      else this.settleClosed(code);
    }
    return this.closed;
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    let url: string;
    try {
      url = typeof this.url === 'string' ? this.url : await this.url();
    } catch (error) {
      // Expected while the server is away (its token endpoint with it): an attempt that
      // failed, told to onState with the reason, not an error to report.
      const reason = error instanceof Error ? error.message : String(error);
      if (!this.stopped) this.failed(1006, `the URL function failed: ${reason}`, undefined);
      return;
    }
    if (this.stopped) return;
    const { WebSocket, connectTimeout } = this.options;
    try {
      this.socket = new SocketSession(WebSocket, url, connectTimeout, this.sessionEvents);
    } catch (error) {
      this.stop(1006, error instanceof Error ? error.message : String(error));
      this.settleClosed(1006);
    }
  }

  /** `rt:connected`: set the status and watch again, join the rooms again, then flush the queue. */
  private async connected(session: SocketSession, info: unknown): Promise<void> {
    if (!session.handshake(info)) return; // once per connection, and well formed
    this.authRetried = false;
    // The server runs a connection's frames in order: the status goes first, so that
    // the members each re-join answers with show it.
    const steps = [...this.presence.resume(), ...this.rooms.resume()];
    const outcomes = await Promise.allSettled(steps);
    if (session !== this.socket || this.stopped) return;
    // A step without an answer leaves the connection's state unknown: start again.
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected' && outcome.reason.code === 'TIMEOUT') {
        session.drop(`no answer while resuming (${outcome.reason.message})`);
        return;
      }
    }
    // The queue goes out before anything a listener sends on `connected`.
    this.currentState = 'connected';
    this.requests.flush();
    this.settleReady(session.info!);
    this.stateListeners.emit('connected', {});
  }

  private lost(session: SocketSession, code: number, reason: string): void {
    this.socket = undefined;
    this.requests.lost(code);
    if (this.stopped) {
      this.settleClosed(this.closeCode ?? code); // close() was waiting for this
      return;
    }
    this.failed(code, reason, session.lasted);
  }

  /** A connection or an attempt failed: try again at once, or after a wait, or stop. */
  private failed(code: number, reason: string, lasted: number | undefined): void {
    const renewable = typeof this.url === 'function';
    const ended = { code, lasted, attempt: this.attempt, renewable, authRetried: this.authRetried };
    const next = reconnectDecision(ended, this.options.reconnect);
    if (next.action === 'stop') {
      this.stop(code, reason);
      this.settleClosed(code);
      return;
    }
    const { delay, attempt } = next;
    if (next.why === 'refused-credentials') this.authRetried = true;
    this.attempt = attempt;
    // Armed before the listeners run: one of them may close the client.
    this.retryTimer = setTimeout(() => void this.open(), delay);
    this.currentState = 'reconnecting';
    this.stateListeners.emit('reconnecting', { code, reason, delay, attempt });
  }

  /**
   * The client stops for good. A socket still open (`close()`) stays current until
   * it closed, which fails the frames waiting for replies.
   */
  private stop(code: number, reason: string): void {
    // Disconnected from the first line: what listeners called below do is refused.
    this.currentState = 'disconnected';
    clearTimeout(this.retryTimer);
    const why = reason ? `${code} ${reason}` : code;
    const error = new RealtimeClientError('CLOSED', `the client stopped (${why})`);
    this.requests.stop(error);
    this.rooms.end(error);
    this.failReady(error);
    this.stateListeners.emit('disconnected', { code, reason });
  }
}
