import type { ResolvedClientOptions } from './client-options.js';
import { RealtimeClientError, type ClientState } from './client-types.js';
import { closedError, lostError, queueFullError } from './request-errors.js';
import type { SocketSession } from './socket-session.js';

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

/**
 * What the requests need of their client: where it is, and the connection to write
 * to once it said `rt:connected`.
 *
 * @example
 * ```ts
 * const link: RequestLink = { state: () => 'connected', session: () => session };
 * ```
 */
export interface RequestLink {
  readonly state: () => ClientState;
  readonly session: () => SocketSession | undefined;
}

/**
 * An `rt:reply`: the data of a request's result, or its error.
 *
 * @example
 * ```ts
 * requests.settle(7, { error: { code: 'NOT_IN_ROOM', message: 'join first' } });
 * ```
 */
export interface Reply {
  readonly data?: unknown;
  readonly error?: { code: string; message: string; details?: Record<string, unknown> };
}

/**
 * The client's frames out: requests with their ids, timeouts and replies, and the
 * offline queue that keeps what is sent while the client is not connected (at most
 * `offlineQueue` frames, sent in order once it is). Requests waiting for replies,
 * sent or queued, are bounded by `maxPendingRequests`.
 *
 * @example
 * ```ts
 * const requests = new ClientRequests(resolveClientOptions({ offlineQueue: 500 }), link);
 * const info = await requests.ask<RoomInfo>('rt:join', { room: 'lobby' });
 * ```
 */
export class ClientRequests {
  /** The timeout of a request that names none, in ms. */
  readonly timeout: number;
  private readonly maxPending: number;
  private readonly maxQueued: number;
  private readonly pending = new Map<number, Pending>();
  private readonly queue: Queued[] = [];
  private nextId = 1;

  constructor(
    options: Pick<ResolvedClientOptions, 'requestTimeout' | 'maxPendingRequests' | 'offlineQueue'>,
    private readonly link: RequestLink,
  ) {
    this.timeout = options.requestTimeout;
    this.maxPending = options.maxPendingRequests;
    this.maxQueued = options.offlineQueue;
  }

  /** Frames waiting in the offline queue. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * A frame that asks for no reply: sent, or queued while not connected.
   *
   * @throws RealtimeClientError `CLOSED`, `OFFLINE_QUEUE_FULL`; a TypeError for data JSON cannot hold.
   */
  emit(event: string, data: unknown): void {
    if (this.link.state() === 'disconnected') throw closedError();
    const text = JSON.stringify({ event, data });
    if (this.link.state() === 'connected') this.link.session()!.send(text);
    else if (this.queue.length >= this.maxQueued) throw queueFullError(this.maxQueued);
    else this.queue.push({ text });
  }

  /**
   * One frame asking for a reply. `now` sends it on the current connection even
   * before the client counts as connected (the re-joins that come first); otherwise
   * it waits in the queue while the client is not connected.
   */
  ask<T>(event: string, data: unknown, timeout = this.timeout, now = false): Promise<T> {
    if (this.link.state() === 'disconnected') return Promise.reject(closedError());
    // The re-joins of a reconnect are bounded by the rooms kept, not by this.
    if (!now && this.pending.size + this.queue.length >= this.maxPending) {
      return Promise.reject(
        new RealtimeClientError('TOO_MANY_REQUESTS', 'too many requests waiting'),
      );
    }
    const direct = now ? this.link.session() !== undefined : this.link.state() === 'connected';
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

  /** An `rt:reply` came: its request resolves with its data, or rejects with its error. */
  settle(id: number, reply: Reply): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (reply.error) {
      const { code, message, details } = reply.error;
      pending.reject(new RealtimeClientError(code, message, details));
    } else {
      pending.resolve(reply.data);
    }
  }

  /** The client is connected: what the queue kept goes out, in order. */
  flush(): void {
    for (const queued of this.queue.splice(0)) this.transmit(queued);
  }

  /** The connection closed with `code`: the requests sent on it get no reply. */
  lost(code: number): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(lostError(code));
    }
    this.pending.clear();
  }

  /** The client stopped for good: what the queue kept fails with `error`. */
  stop(error: RealtimeClientError): void {
    for (const { reply } of this.queue.splice(0)) {
      if (!reply) continue;
      clearTimeout(reply.timer);
      reply.reject(error);
    }
  }

  /** Writes a frame to the socket; one that wants a reply gets its id now. */
  private transmit({ text, reply }: Queued): void {
    const session = this.link.session()!;
    if (!reply) {
      session.send(text);
      return;
    }
    reply.id = this.nextId++;
    this.pending.set(reply.id, reply);
    session.send(`${text.slice(0, -1)},"id":${reply.id}}`);
  }
}
