/**
 * The shape of an app's protocol, for a typed client. Every part is optional; a
 * part left out accepts any name and any payload.
 *
 * @example
 * ```ts
 * interface ChatSchema {
 *   events: { chat: { from: string; text: string } };              // server -> client
 *   requests: { send: { data: { text: string }; result: { id: number } } };
 *   calls: { sum: { params: [number, number]; result: number } };  // RpcService.register
 *   answers: { confirm: { params: { text: string }; result: boolean } }; // RpcService.call
 * }
 * const client = new RealtimeClient<ChatSchema>(url);
 * client.on('chat', (m) => m.text);             // typed payload
 * const { id } = await client.request('send', { text: 'hi' });
 * ```
 */
export interface RealtimeSchema {
  /** What the server sends: event name -> payload. */
  events?: Record<string, unknown>;
  /** What the client sends: event name -> its data and its handler's result. */
  requests?: Record<string, { data: unknown; result: unknown }>;
  /** The server's RPC methods: name -> params and result. */
  calls?: Record<string, { params: unknown; result: unknown }>;
  /** The methods the client answers for the server: name -> params and result. */
  answers?: Record<string, { params: unknown; result: unknown }>;
}

type Part<S, K extends keyof RealtimeSchema, Fallback> = S extends { [P in K]-?: infer T }
  ? T extends object
    ? T
    : Fallback
  : Fallback;

/**
 * The events part of a schema (what the server sends: name -> payload), or any.
 * Public like the other parts: the declarations of the client's methods name them,
 * and `stripInternal` would drop an internal one from the published .d.ts.
 *
 * @example
 * ```ts
 * type Chat = EventsOf<ChatSchema>['chat']; // { from: string; text: string }
 * ```
 */
export type EventsOf<S> = Part<S, 'events', Record<string, any>>;

/**
 * The requests part of a schema (name -> data and result), or any.
 *
 * @example
 * ```ts
 * type Sent = RequestsOf<ChatSchema>['send']['result']; // { id: number }
 * ```
 */
export type RequestsOf<S> = Part<S, 'requests', Record<string, { data: any; result: any }>>;

/**
 * The calls part of a schema (the server's RPC methods: name -> params and result), or any.
 *
 * @example
 * ```ts
 * type Sum = CallsOf<ChatSchema>['sum']['result']; // number
 * ```
 */
export type CallsOf<S> = Part<S, 'calls', Record<string, { params: any; result: any }>>;

/**
 * The answers part of a schema (methods the client answers: name -> params and result), or any.
 *
 * @example
 * ```ts
 * type Confirm = AnswersOf<ChatSchema>['confirm']['params']; // { text: string }
 * ```
 */
export type AnswersOf<S> = Part<S, 'answers', Record<string, { params: any; result: any }>>;

/** The built-in events a listener may follow with `on`, beside the app's. */
interface BuiltinServerEvents {
  'rt:error': { code: string; message: string; event?: string };
  'rt:presence': PresenceState;
  'rt:room-presence': { joined: PresenceState[]; changed: PresenceState[]; left: string[] };
}

/**
 * What a client of schema `S` may listen to: the schema's events and the built-in ones.
 *
 * @example
 * ```ts
 * type Presence = ServerEvents<ChatSchema>['rt:presence']; // PresenceState
 * ```
 */
export type ServerEvents<S> = EventsOf<S> & BuiltinServerEvents;

/**
 * Where the client is: `connecting` (the first attempt), `connected` (rooms
 * re-joined, queue flushed), `reconnecting` (between attempts, or re-joining),
 * `disconnected` (for good: `close()`, a close code that forbids reconnecting, or
 * `maxAttempts` spent).
 *
 * @example
 * ```ts
 * client.onState((state) => banner.hidden = state === 'connected');
 * ```
 */
export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'disconnected';

/**
 * Why the state changed: the close code and reason of the connection that went
 * (absent when there was none), and for `reconnecting`, the wait before the next
 * attempt and how many attempts in a row failed.
 *
 * @example
 * ```ts
 * client.onState((state, { code, delay }) => console.log(state, code, delay));
 * ```
 */
export interface StateChange {
  readonly code?: number;
  readonly reason?: string;
  readonly delay?: number;
  readonly attempt?: number;
}

/**
 * What `rt:connected` says about this connection.
 *
 * @example
 * ```ts
 * const { connectionId, userId } = await client.ready;
 * ```
 */
export interface ConnectedInfo {
  readonly connectionId: string;
  readonly userId: string | null;
  readonly pingInterval: number;
  readonly pongTimeout: number;
}

/**
 * A user's presence as the server reports it (docs/protocol.md, Presence).
 *
 * @example
 * ```ts
 * client.onPresence((state: PresenceState) => badge(state.userId, state.status));
 * ```
 */
export interface PresenceState {
  readonly userId: string;
  readonly status: 'online' | 'away' | 'busy' | 'invisible' | 'offline';
  readonly meta: Record<string, unknown> | null;
  readonly since: number | null;
}

/**
 * A room as a join reply describes it.
 *
 * @example
 * ```ts
 * const { size, epoch, offset } = (await client.join('lobby')).info;
 * ```
 */
export interface RoomInfo {
  readonly name: string;
  readonly size: number;
  readonly created: number;
  readonly persistent: boolean;
  readonly epoch: string;
  readonly offset: number;
  readonly recovered?: boolean;
  readonly members?: PresenceState[];
}

/**
 * Codes the client itself gives (beside the server's, docs/protocol.md):
 * `TIMEOUT` (no reply in time), `CLOSED` (the client is disconnected for good),
 * `CONNECTION_LOST` (the connection went after the frame was sent: it may or may
 * not have been handled), `OFFLINE_QUEUE_FULL` (the offline queue is full),
 * `TOO_MANY_REQUESTS` (`maxPendingRequests` are waiting).
 *
 * @example
 * ```ts
 * if (error instanceof RealtimeClientError && error.code === 'OFFLINE_QUEUE_FULL') retryLater();
 * ```
 */
export type ClientErrorCode =
  'TIMEOUT' | 'CLOSED' | 'CONNECTION_LOST' | 'OFFLINE_QUEUE_FULL' | 'TOO_MANY_REQUESTS';

/**
 * A failed request: the server's error code and message, or one of the client's
 * own ({@link ClientErrorCode}).
 *
 * @example
 * ```ts
 * try { await client.call('sum', [1, 2]); }
 * catch (e) { if (e instanceof RealtimeClientError && e.code === 'RPC_UNKNOWN_METHOD') ... }
 * ```
 */
export class RealtimeClientError extends Error {
  override readonly name = 'RealtimeClientError';

  constructor(
    readonly code: ClientErrorCode | (string & {}),
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/**
 * A message as it reaches a listener: its payload and where it came from; room
 * messages carry the room and their place in its stream.
 *
 * @example
 * ```ts
 * const onChat: MessageListener<{ text: string }> = (data, { room }) => render(room, data.text);
 * client.on('chat', onChat);
 * ```
 */
export type MessageListener<T = unknown> = (data: T, meta: MessageMeta) => void;

/**
 * Where a message came from.
 *
 * @example
 * ```ts
 * client.on('chat', (data, meta: MessageMeta) => meta.room && meta.offset);
 * ```
 */
export interface MessageMeta {
  readonly event: string;
  readonly room?: string;
  readonly offset?: number;
  readonly epoch?: string;
}

/**
 * What the client needs of a WebSocket: the browser's, and `ws`'s in Node, fit.
 *
 * @example
 * ```ts
 * const socket: WebSocketLike = new WebSocket('ws://localhost:3000/ws');
 * ```
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open', listener: () => void): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(
    type: 'close',
    listener: (event: { code: number; reason?: string }) => void,
  ): void;
  addEventListener(type: 'error', listener: (event: unknown) => void): void;
}

/**
 * A WebSocket constructor (the browser's, or `ws` in Node).
 *
 * @example
 * ```ts
 * import { WebSocket } from 'ws';
 * new RealtimeClient('ws://localhost:3000/ws', { WebSocket });
 * ```
 */
export type WebSocketConstructor = new (url: string) => WebSocketLike;
