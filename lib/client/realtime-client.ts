// The client imports nothing from Nest or Node: it runs in browsers as it is.
import { BuiltinEvent } from '../realtime.constants.js';

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
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code: number }) => void): void;
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

/**
 * Options of {@link RealtimeClient}.
 *
 * @example
 * ```ts
 * import WebSocket from 'ws';
 * const client = new RealtimeClient('ws://localhost:3000/ws', { WebSocket, requestTimeout: 5_000 });
 * ```
 */
export interface RealtimeClientOptions {
  /** The WebSocket constructor; defaults to `globalThis.WebSocket`. */
  WebSocket?: WebSocketConstructor;
  /** How long a request waits for its reply, in ms. Default 10000. */
  requestTimeout?: number;
  /** Requests that may wait for replies at once; more are refused. Default 1000. */
  maxPendingRequests?: number;
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
 * A failed request: the server's error code and message, or a client-side code
 * (`TIMEOUT`, `CLOSED`, `TOO_MANY_REQUESTS`).
 *
 * @example
 * ```ts
 * try { await client.join('x'.repeat(500)); }
 * catch (e) { if (e instanceof RealtimeClientError && e.code === 'ROOM_NAME_INVALID') ... }
 * ```
 */
export class RealtimeClientError extends Error {
  override readonly name = 'RealtimeClientError';

  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

/**
 * A message as it reaches a listener: its payload and, for room messages, the room.
 *
 * @example
 * ```ts
 * const onChat: MessageListener = (data, { room }) => render(room, data);
 * client.on('chat', onChat);
 * ```
 */
export type MessageListener<T = unknown> = (
  data: T,
  meta: { event: string; room?: string },
) => void;

interface ServerFrame {
  event: string;
  data?: any;
  id?: string | number;
  room?: string;
  ack?: string;
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * A small client for the nest-realtime WebSocket protocol (docs/protocol.md):
 * requests with replies, rooms, events. It does not reconnect by itself yet.
 *
 * @example
 * ```ts
 * const client = new RealtimeClient('ws://localhost:3000/ws?token=abc');
 * await client.ready;
 * client.on('chat', (data, { room }) => console.log(room, data.text));
 * await client.join('lobby');
 * await client.publish('lobby', 'chat', { text: 'hello' });
 * const answer = await client.request('my-event', { any: 'payload' });
 * client.close();
 * ```
 */
export class RealtimeClient {
  /** Resolves with `rt:connected`; rejects if the socket closes first. */
  readonly ready: Promise<ConnectedInfo>;
  /** Resolves with the close code once the socket has closed. */
  readonly closed: Promise<number>;

  private readonly socket: WebSocketLike;
  private readonly listeners = new Map<string, Set<MessageListener>>();
  private readonly pending = new Map<number, Pending>();
  private readonly answers = new Map<string, (params: unknown) => unknown>();
  /** Ids of acknowledged messages already handled. */
  private readonly acked = new Set<string>();
  private readonly requestTimeout: number;
  private readonly maxPendingRequests: number;
  private nextId = 1;

  constructor(url: string, options: RealtimeClientOptions = {}) {
    const Socket: WebSocketConstructor = options.WebSocket ?? globalThis.WebSocket;
    this.requestTimeout = options.requestTimeout ?? 10_000;
    this.maxPendingRequests = options.maxPendingRequests ?? 1_000;
    // This client handles batches: the server may gather a tick's frames into one.
    this.socket = new Socket(withBatches(url));
    this.ready = new Promise((resolve, reject) => {
      this.once<ConnectedInfo>(BuiltinEvent.Connected, resolve);
      this.socket.addEventListener('close', () =>
        reject(new RealtimeClientError('CLOSED', 'closed before rt:connected')),
      );
    });
    this.ready.catch(() => undefined); // observed by whoever awaits it
    this.closed = new Promise((resolve) => {
      this.socket.addEventListener('close', (event) => {
        this.failPending(new RealtimeClientError('CLOSED', `connection closed (${event.code})`));
        resolve(event.code);
      });
    });
    this.socket.addEventListener('message', (event) => this.receive(event.data));
    // A failed connection is reported by the close event that follows; in Node an
    // 'error' with no listener would be thrown.
    this.socket.addEventListener('error', () => undefined);
  }

  /** Listens to an event; returns the function that stops listening. */
  on<T = unknown>(event: string, listener: MessageListener<T>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as MessageListener);
    return () => set.delete(listener as MessageListener);
  }

  /** Sends a frame that asks for no reply. */
  emit(event: string, data?: unknown): void {
    this.socket.send(JSON.stringify({ event, data }));
  }

  /** Sends a frame with an id and resolves with the reply's data (rejects with its error). */
  request<T = unknown>(event: string, data?: unknown, timeout = this.requestTimeout): Promise<T> {
    if (this.pending.size >= this.maxPendingRequests) {
      return Promise.reject(
        new RealtimeClientError('TOO_MANY_REQUESTS', 'too many requests waiting'),
      );
    }
    if (this.socket.readyState !== 1) {
      return Promise.reject(new RealtimeClientError('CLOSED', 'the connection is not open'));
    }
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RealtimeClientError('TIMEOUT', `no reply to "${event}" within ${timeout} ms`));
      }, timeout);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.socket.send(JSON.stringify({ event, data, id }));
    });
  }

  /**
   * Joins a room; resolves with its info. With `presence: true` the info carries the
   * room's `members`, and `rt:room-presence` diffs follow.
   */
  join(
    room: string,
    options: { presence?: boolean } = {},
  ): Promise<{
    name: string;
    size: number;
    created: number;
    persistent: boolean;
    members?: any[];
  }> {
    return this.request(BuiltinEvent.Join, options.presence ? { room, presence: true } : { room });
  }

  /** Sets this user's status (`online`, `away`, `busy`, `invisible`) for all their connections. */
  setStatus(status: string, meta: Record<string, unknown> | null = null): Promise<unknown> {
    return this.request(BuiltinEvent.Status, { status, meta });
  }

  /** Leaves a room; resolves with whether the connection was in it. */
  async leave(room: string): Promise<boolean> {
    return (await this.request<{ left: boolean }>(BuiltinEvent.Leave, { room })).left;
  }

  /** Publishes to a room this connection is in (not echoed back unless `echo`). */
  async publish(
    room: string,
    event: string,
    data?: unknown,
    options: { echo?: boolean } = {},
  ): Promise<void> {
    await this.request(BuiltinEvent.Publish, { room, event, data, echo: options.echo });
  }

  /**
   * Calls a method the server registered (`RpcService.register`); resolves with its
   * result, rejects with its error code (`RPC_UNKNOWN_METHOD`, `RPC_TIMEOUT`, the
   * app's own, ...).
   */
  call<T = unknown>(method: string, params?: unknown, timeout?: number): Promise<T> {
    return this.request<T>(BuiltinEvent.Call, { method, params }, timeout);
  }

  /**
   * Answers the server's calls of `method` (`RpcService.call`) with what `handler`
   * returns; a thrown `RealtimeClientError` keeps its code. Returns the function that
   * stops answering.
   */
  answer(method: string, handler: (params: unknown) => unknown): () => void {
    this.answers.set(method, handler);
    return () => {
      if (this.answers.get(method) === handler) this.answers.delete(method);
    };
  }

  private async answerCall(id: string, { method, params }: { method?: unknown; params?: unknown }) {
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
    if (this.socket.readyState !== 1) return;
    let text: string;
    try {
      text = JSON.stringify({ event: BuiltinEvent.Reply, id, ...reply });
    } catch {
      const error = { code: 'INTERNAL_ERROR', message: 'the answer is not JSON' };
      text = JSON.stringify({ event: BuiltinEvent.Reply, id, error });
    }
    this.socket.send(text);
  }

  /** Closes the connection; pending requests fail with `CLOSED`. */
  close(code = 1000, reason = ''): Promise<number> {
    this.socket.close(code, reason);
    return this.closed;
  }

  private once<T>(event: string, listener: MessageListener<T>): void {
    const off = this.on<T>(event, (data, meta) => {
      off();
      listener(data, meta);
    });
  }

  private receive(raw: unknown): void {
    if (typeof raw !== 'string') return;
    let frame: ServerFrame;
    try {
      frame = JSON.parse(raw) as ServerFrame;
    } catch {
      return;
    }
    this.handle(frame, undefined);
  }

  /** One frame, or each frame of a batch in order (an item without `room` takes the batch's). */
  private handle(frame: ServerFrame, batchRoom: string | undefined): void {
    const room = frame.room ?? batchRoom;
    if (frame.event === BuiltinEvent.Reply && typeof frame.id === 'number') {
      this.settle(frame.id, frame);
    } else if (frame.event === BuiltinEvent.Call && typeof frame.id === 'string') {
      void this.answerCall(frame.id, frame.data as { method?: unknown; params?: unknown });
    } else if (frame.event === BuiltinEvent.Batch && Array.isArray(frame.data)) {
      for (const item of frame.data as ServerFrame[]) this.handle(item, room);
    } else if (typeof frame.ack === 'string') {
      // Acknowledged only once something took it: until then the server sends it again.
      if (this.listeners.get(frame.event)?.size) {
        this.acknowledge(frame.ack, () => this.dispatch(frame.event, frame.data, room));
      }
    } else {
      this.dispatch(frame.event, frame.data, room);
    }
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
    if (this.socket.readyState === 1) {
      this.socket.send(JSON.stringify({ event: BuiltinEvent.Ack, data: { id } }));
    }
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

  private dispatch(event: string, data: unknown, room: string | undefined): void {
    const set = this.listeners.get(event);
    if (!set) return;
    // A copy: a listener added while dispatching starts with the next message.
    // oxlint-disable-next-line unicorn/no-useless-spread
    for (const listener of [...set]) {
      try {
        listener(data, room === undefined ? { event } : { event, room });
      } catch (error) {
        // One failing listener must not starve the others (or the rest of a batch).
        reportError(error);
      }
    }
  }

  private failPending(error: Error): void {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(error);
    }
    this.pending.clear();
  }
}

function reportError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (report) report(error);
  else console.error(error);
}

function withBatches(url: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}rt-batch=1`;
}
