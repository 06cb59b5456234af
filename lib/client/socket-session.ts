import type { ConnectedInfo, WebSocketConstructor, WebSocketLike } from './client-types.js';

/** The query parameters of the protocol features this client handles (docs/protocol.md). */
const FEATURES = 'rt-batch=1&rt-ping=1&rt-refuse=close';
/** How long `close()` waits for the server's answer before it lets the socket go. */
const CLOSE_WAIT = 1_000;

/**
 * What a session tells its client.
 *
 * @example
 * ```ts
 * const events: SessionEvents = {
 *   message: (session, data) => inbound.receive(session, data),
 *   lost: (session, code, reason) => reconnectAfter(code, reason, session.lasted),
 * };
 * ```
 */
export interface SessionEvents {
  /** A message came (only while the session has not ended). */
  message(session: SocketSession, data: unknown): void;
  /** The session ended: its socket closed, or was given up. Told once. */
  lost(session: SocketSession, code: number, reason: string): void;
}

/**
 * One connection attempt: a WebSocket from its creation to its end. It gives the
 * attempt `connectTimeout` to reach `rt:connected` (the {@link handshake}), then
 * watches its liveness: the server sends something (at least `rt:ping`) every
 * `pingInterval`, and nothing within `pingInterval + pongTimeout` means the
 * connection is dead. A socket given up is closed in the background and the session
 * ends at once: its close frame may never come back.
 *
 * @example
 * ```ts
 * const session = new SocketSession(WebSocket, 'ws://localhost:3000/ws', 10_000, events);
 * // on the rt:connected frame:
 * if (session.handshake(frame.data)) session.send(JSON.stringify({ event: 'rt:join', data: { room } }));
 * ```
 */
export class SocketSession {
  private readonly socket: WebSocketLike;
  private connectedInfo: ConnectedInfo | undefined;
  private ended = false;
  private connectedAt = 0;
  private lastMessageAt = 0;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private livenessTimer: ReturnType<typeof setTimeout> | undefined;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;

  /** @throws what the WebSocket constructor throws (a malformed URL, say). */
  constructor(
    Socket: WebSocketConstructor,
    url: string,
    connectTimeout: number,
    private readonly events: SessionEvents,
  ) {
    this.socket = new Socket(`${url}${url.includes('?') ? '&' : '?'}${FEATURES}`);
    this.connectTimer = setTimeout(
      () => this.drop(`no rt:connected within ${connectTimeout} ms`),
      connectTimeout,
    );
    this.socket.addEventListener('message', (event) => {
      if (this.ended) return;
      this.lastMessageAt = Date.now();
      this.events.message(this, event.data);
    });
    this.socket.addEventListener('close', (event) => this.end(event.code, event.reason ?? ''));
    // A failed connection is reported by the close event that follows; in Node an
    // 'error' with no listener would be thrown.
    this.socket.addEventListener('error', () => undefined);
  }

  /** `rt:connected` of this connection, once it came. */
  get info(): ConnectedInfo | undefined {
    return this.connectedInfo;
  }

  /** Whether frames sent now go out: the session has not ended and its socket is open. */
  get live(): boolean {
    return !this.ended && this.socket.readyState === 1;
  }

  /** How long the connection has been up since `rt:connected`, in ms; `undefined` before. */
  get lasted(): number | undefined {
    return this.connectedInfo === undefined ? undefined : Date.now() - this.connectedAt;
  }

  /**
   * Takes `rt:connected`: once per connection, and only well formed. Ends the wait
   * for it and starts the liveness check. Returns whether it was taken.
   */
  handshake(info: unknown): boolean {
    if (this.connectedInfo || !isConnectedInfo(info)) return false;
    clearTimeout(this.connectTimer);
    this.connectedInfo = info;
    this.connectedAt = Date.now();
    this.watchLiveness(info.pingInterval + info.pongTimeout);
    return true;
  }

  /** Writes a frame's text to the socket. */
  send(text: string): void {
    this.socket.send(text);
  }

  /** Gives the connection up: its socket is closed in the background, the session ends now. */
  drop(reason: string): void {
    if (this.ended) return;
    if (!terminate(this.socket)) shut(this.socket, 4000, reason);
    this.end(1006, reason);
  }

  /**
   * Closes with the client's code; the session ends with the server's answer, or
   * a second later without one (a server gone silent never answers).
   */
  close(code: number, reason: string): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.livenessTimer);
    shut(this.socket, code, reason);
    this.closeTimer = setTimeout(() => {
      terminate(this.socket);
      this.end(1006, 'no answer to the close');
    }, CLOSE_WAIT);
  }

  /** One timer, re-armed for what remains rather than reset on every message. */
  private watchLiveness(window: number): void {
    this.lastMessageAt = Date.now();
    const check = (): void => {
      const silent = Date.now() - this.lastMessageAt;
      if (silent >= window) this.drop(`no message within ${window} ms`);
      else this.livenessTimer = setTimeout(check, window - silent);
    };
    this.livenessTimer = setTimeout(check, window);
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.livenessTimer);
    clearTimeout(this.closeTimer);
    this.events.lost(this, code, reason);
  }
}

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
