import type { OutboundFrame, StreamPosition } from '../protocol/index.js';
import type { ConnectionTraffic } from './metrics/connection-traffic.js';
import type { RateLimitState } from './limits/rate-limiter.js';

/**
 * Who a connection belongs to, as the `authenticate` hook returned it. `userId` ties
 * several connections (tabs, devices) to one user; the other fields are the app's own
 * claims, passed through untouched.
 *
 * @example
 * ```ts
 * authenticate: async (req) => ({ userId: 'u1', roles: ['admin'] }) satisfies RealtimePrincipal
 * ```
 */
export interface RealtimePrincipal {
  readonly userId?: string;
  readonly [claim: string]: unknown;
}

/**
 * One client connection, whatever its transport. The hub sees only this: it never
 * touches a socket. Handlers receive the transport's subclass as `@ConnectedSocket()`.
 *
 * @example
 * ```ts
 * @SubscribeMessage('whoami')
 * whoami(@ConnectedSocket() client: RealtimeConnection) {
 *   return { id: client.id, user: client.userId, rooms: [...client.rooms] };
 * }
 * ```
 */
export abstract class RealtimeConnection {
  /** @internal The hub's record of this connection's rooms. */
  readonly roomSet = new Set<string>();

  /** @internal Live frames held per room while the room's missed messages are replayed. */
  recovering: Map<string, { offset: number; frame: OutboundFrame }[]> | undefined;

  /**
   * @internal Per room, where a replay sent from the engine's history reached: a live
   * frame at or before it that the broker hands over late (pub/sub lags behind a read)
   * was sent already.
   */
  replayed: Map<string, StreamPosition> | undefined;

  /** @internal Counted where it happens (see {@link traffic}): fields of the connection itself. */
  delivered = 0;
  /** @internal */
  framesSent = 0;
  /** @internal */
  bytesSent = 0;
  /** @internal */
  volatileSkipped = 0;

  /** What this connection has been sent, as it stands (read by the metrics and the inspector). */
  get traffic(): ConnectionTraffic {
    const { delivered, framesSent, bytesSent, volatileSkipped } = this;
    return { delivered, framesSent, bytesSent, volatileSkipped };
  }

  /** @internal The transport took a frame of `bytes` bytes to send. */
  protected countSent(bytes: number): void {
    this.framesSent++;
    this.bytesSent += bytes;
  }

  /** When the connection opened (ms since the epoch). */
  readonly openedAt = Date.now();

  /**
   * How the connection ended: the code the server closed it with, else the client's
   * (1006 when it was cut); undefined while open.
   */
  get closeCode(): number | undefined {
    return this.#closeCode;
  }

  #closeCode: number | undefined;

  /** @internal The transport records how the connection ended; the first code stays. */
  protected endedWith(code: number): void {
    this.#closeCode ??= code;
  }

  /** The rooms this connection is in (on this node; the hub keeps the list). */
  get rooms(): ReadonlySet<string> {
    return this.roomSet;
  }

  constructor(
    /** Unique across every node: `<nodeId>.<counter>`. */
    readonly id: string,
    readonly principal: RealtimePrincipal,
  ) {}

  /** The principal's user id, or undefined for an anonymous connection. */
  get userId(): string | undefined {
    return this.principal.userId;
  }

  /** The transport's name, e.g. `websocket`. */
  abstract readonly transport: string;

  /** Whether frames sent now can still reach the client. */
  abstract get isOpen(): boolean;

  /**
   * Whether the client can answer what the server sends it (acknowledgements,
   * server-to-client calls). An SSE stream cannot: acknowledged delivery leaves it out.
   */
  get answers(): boolean {
    return true;
  }

  /** Bytes waiting to be written to the client (0 when the transport cannot tell). */
  get buffered(): number {
    return 0;
  }

  /** The client's rate limit as it stands, when it has one (the inspector shows it). */
  get rateLimit(): RateLimitState | undefined {
    return undefined;
  }

  /** Whether the client is behind: volatile messages are dropped for it. */
  get congested(): boolean {
    return false;
  }

  /**
   * Sends one encoded frame. The same buffer may be handed to many connections, so
   * an implementation must not change it. Sending on a closed connection does nothing.
   */
  abstract send(frame: OutboundFrame): void;

  /** Closes the connection with a code from {@link CloseCode} and a short reason. */
  abstract close(code: number, reason: string): void;
}
