import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { WebSocket, type ClientOptions } from 'ws';

/** A frame as the server sends it. */
export interface Frame {
  event: string;
  data?: any;
  id?: string | number;
  error?: { code: string; message: string; details?: Record<string, unknown> };
  room?: string;
  ack?: string;
  /** A message to exactly one room: its place in the room's stream. */
  offset?: number;
  epoch?: string;
}

/** A frame predicate: the frame is an `event` frame. */
export const eventIs =
  (event: string) =>
  (frame: Frame): boolean =>
    frame.event === event;

/** A frame predicate: the frame answers a client frame (an `rt:error` or an `rt:reply`). */
export const isAnswer = (frame: Frame): boolean =>
  frame.event === 'rt:error' || frame.event === 'rt:reply';

/**
 * A raw `ws` client for tests: it records every frame and lets a test wait for the
 * next one matching a predicate. Nothing of the library's own client is used.
 */
export class TestClient {
  readonly frames: Frame[] = [];
  private cursor = 0;
  private waiters: (() => void)[] = [];
  private nextId = 1;
  closeCode: number | undefined;
  closeReason = '';
  readonly closed: Promise<number>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      this.frames.push(JSON.parse(raw.toString()) as Frame);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        this.wake();
        resolve(code);
      });
    });
  }

  /** Connects and waits for `rt:connected`. */
  static async connect(url: string, options?: ClientOptions): Promise<TestClient> {
    const client = await TestClient.open(url, options);
    client.connected = await client.next(eventIs('rt:connected'));
    return client;
  }

  /** Connects without waiting for any frame. */
  static open(url: string, options?: ClientOptions): Promise<TestClient> {
    const socket = new WebSocket(url, options);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new TestClient(socket)));
      socket.once('error', reject);
      socket.once('unexpected-response', (_req, res) =>
        reject(new Error(`HTTP ${res.statusCode}`)),
      );
    });
  }

  /** The `rt:connected` frame, once `connect` has seen it. */
  connected: Frame | undefined;

  get connectionId(): string {
    return this.connected!.data.connectionId;
  }

  send(frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a frame with a fresh id and waits for the reply carrying it. */
  async request(event: string, data?: unknown): Promise<Frame> {
    const id = this.nextId++;
    this.send({ event, data, id });
    return this.next((f) => f.event === 'rt:reply' && f.id === id);
  }

  /** The next frame not yet consumed that matches, waiting up to `timeout` ms. */
  async next(match: (frame: Frame) => boolean = () => true, timeout = 3_000): Promise<Frame> {
    const deadline = Date.now() + timeout;
    for (;;) {
      for (let i = this.cursor; i < this.frames.length; i++) {
        const frame = this.frames[i]!;
        if (match(frame)) {
          this.frames.splice(i, 1);
          return frame;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.socket.readyState === WebSocket.CLOSED) {
        throw new Error(`no matching frame; got ${JSON.stringify(this.frames.slice(-5))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Collects frames matching for `ms` milliseconds (to show that nothing came). */
  async collect(match: (frame: Frame) => boolean, ms = 150): Promise<Frame[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.frames.filter(match);
  }

  close(): Promise<number> {
    this.socket.close();
    return this.closed;
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}

/**
 * A WebSocket client made by hand that reads nothing after the server's 101: it never
 * answers a close (the server must cut it).
 */
export async function muteClient(port: number, pathAndQuery: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const key = randomBytes(16).toString('base64');
  socket.write(
    `GET ${pathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  await once(socket, 'data'); // 101 Switching Protocols
  socket.on('error', () => undefined);
  socket.pause();
  return socket;
}
