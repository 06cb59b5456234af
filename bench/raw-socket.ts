import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A WebSocket client cheap enough not to be the bench's limit: a TCP socket that
 * does the HTTP upgrade itself and then reads only frame headers. A text frame
 * whose payload starts with `countPrefix` is counted without being decoded; any
 * other text frame (handshakes, batches, heartbeats) is decoded and handed to
 * `onText`. Pings are answered; a fragmented or binary frame is an error, as no
 * peer sends one.
 */
export interface RawSocketHandlers {
  /** Payloads starting with these bytes count as one message, unread. */
  countPrefix: Buffer | undefined;
  onOpen(): void;
  /** A counted frame, and its payload's length. */
  onCount(length: number): void;
  onText(text: string): void;
  onClose(error?: Error): void;
}

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;

export class RawSocket {
  private readonly tcp: Socket;
  private upgraded = false;
  private closed = false;
  /** Bytes of the last chunk that did not yet make a whole header (or a frame to decode). */
  private pending: Buffer | undefined;
  /** Payload bytes of a counted frame still to come in later chunks. */
  private skip = 0;
  /** When set, every text frame is decoded (its stamps are read). */
  decodeAll = false;

  constructor(
    host: string,
    port: number,
    path: string,
    headers: Record<string, string>,
    private readonly handlers: RawSocketHandlers,
    localAddress?: string,
  ) {
    const key = randomBytes(16).toString('base64');
    this.tcp = connect({ host, port, localAddress, noDelay: true });
    this.tcp.on('connect', () => {
      const lines = [
        `GET ${path} HTTP/1.1`,
        `Host: ${host}:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        `Sec-WebSocket-Key: ${key}`,
        'Sec-WebSocket-Version: 13',
        ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
      ];
      this.tcp.write(`${lines.join('\r\n')}\r\n\r\n`);
    });
    this.tcp.on('data', (chunk: Buffer) => this.onData(chunk));
    this.tcp.on('error', (error) => this.finish(error));
    this.tcp.on('close', () => this.finish());
  }

  get isOpen(): boolean {
    return this.upgraded && !this.closed;
  }

  /** Sends a masked text frame. */
  send(text: string): void {
    this.write(OP_TEXT, Buffer.from(text));
  }

  terminate(): void {
    this.tcp.destroy();
  }

  private write(opcode: number, payload: Buffer): void {
    const length = payload.length;
    const extra = length < 126 ? 0 : length < 65_536 ? 2 : 8;
    const frame = Buffer.allocUnsafe(2 + extra + 4 + length);
    frame[0] = 0x80 | opcode;
    if (extra === 0) frame[1] = 0x80 | length;
    else if (extra === 2) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(length), 2);
    }
    const maskAt = 2 + extra;
    randomBytes(4).copy(frame, maskAt);
    for (let i = 0; i < length; i++) frame[maskAt + 4 + i] = payload[i]! ^ frame[maskAt + (i & 3)]!;
    this.tcp.write(frame);
  }

  private onData(chunk: Buffer): void {
    let data = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    if (!this.upgraded) {
      const end = data.indexOf('\r\n\r\n');
      if (end === -1) {
        this.pending = data;
        return;
      }
      const head = data.toString('latin1', 0, end);
      if (!head.startsWith('HTTP/1.1 101')) {
        this.finish(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        this.tcp.destroy();
        return;
      }
      this.upgraded = true;
      data = data.subarray(end + 4);
      this.handlers.onOpen();
    }
    let at = 0;
    if (this.skip > 0) {
      const skipped = Math.min(this.skip, data.length);
      this.skip -= skipped;
      at = skipped;
    }
    while (at < data.length && !this.closed) {
      const used = this.frameAt(data, at);
      if (used === 0) {
        this.pending = data.subarray(at);
        return;
      }
      at += used;
    }
  }

  /** Reads the frame at `at`: the bytes it used of `data`, or 0 if more are needed. */
  private frameAt(data: Buffer, at: number): number {
    const available = data.length - at;
    if (available < 2) return 0;
    const first = data[at]!;
    const second = data[at + 1]!;
    if ((first & 0x80) === 0 || second & 0x80) {
      this.fail('a fragmented or masked frame from the server');
      return available;
    }
    let length = second & 0x7f;
    let headerLength = 2;
    if (length === 126) {
      if (available < 4) return 0;
      length = data.readUInt16BE(at + 2);
      headerLength = 4;
    } else if (length === 127) {
      if (available < 10) return 0;
      length = Number(data.readBigUInt64BE(at + 2));
      headerLength = 10;
    }
    const start = at + headerLength;
    const whole = available >= headerLength + length;
    const opcode = first & 0x0f;
    const prefix = this.handlers.countPrefix;
    if (opcode === OP_TEXT && prefix && !this.decodeAll && length >= prefix.length) {
      // Counted from its first bytes; the rest of it is skipped, here or in later chunks.
      if (available < headerLength + prefix.length) return 0;
      if (data.compare(prefix, 0, prefix.length, start, start + prefix.length) === 0) {
        this.handlers.onCount(length);
        if (whole) return headerLength + length;
        this.skip = headerLength + length - available;
        return available;
      }
    }
    if (!whole) return 0;
    const payload = data.subarray(start, start + length);
    if (opcode === OP_TEXT) this.handlers.onText(payload.toString());
    else if (opcode === OP_PING) this.write(OP_PONG, payload);
    else if (opcode === OP_CLOSE) this.tcp.end();
    else if (opcode !== OP_PONG) this.fail(`an unexpected frame (opcode ${opcode})`);
    return headerLength + length;
  }

  private fail(what: string): void {
    this.finish(new Error(`the server sent ${what}`));
    this.tcp.destroy();
  }

  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers.onClose(error);
  }
}
