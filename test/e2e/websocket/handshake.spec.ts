// The WebSocket handshake: sockets refused with
// a close code, requests that are not WebSocket handshakes, and authentication that
// never ends. Everything here speaks raw TCP, to send what a real client would not.
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { connect as tcpConnect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { CloseCode } from '../../../lib/index.js';
import {
  appForEachTest,
  expectAlive,
  queryParam,
  until,
  userFromQuery,
  recordUncaught,
  type Harness,
} from '../../support/fixtures.js';

const CLOSE_TIMEOUT = 300;
/** What a loaded machine may add to a timer before it fires. */
const SLACK = 700;

/** An upgrade request for `path`; a header set to undefined is left out. */
function upgradeRequest(
  port: number,
  path: string,
  headers: Record<string, string | undefined> = {},
): string {
  const all: Record<string, string | undefined> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = Object.entries(all)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `${name}: ${value}`);
  return `GET ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

/** A raw TCP client that records what it receives and when the server ended it. */
class RawSocket {
  private readonly chunks: Buffer[] = [];
  /** When the first bytes arrived (Date.now()), if any did. */
  firstDataAt: number | undefined;
  /** When the server ended or reset the connection (Date.now()), if it did. */
  endedAt: number | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.firstDataAt ??= Date.now();
      this.chunks.push(chunk);
    });
    // It never writes again: it does not answer the server's close frame.
    const ended = () => (this.endedAt ??= Date.now());
    socket.on('end', ended);
    socket.on('close', ended);
    socket.on('error', () => undefined); // a reset ends it too
  }

  /** Connects to the app, destroyed at cleanup. */
  static async connect(harness: Harness, port: number): Promise<RawSocket> {
    const socket = tcpConnect(port, '127.0.0.1');
    harness.defer(() => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawSocket(socket);
  }

  get data(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** The HTTP status of the response, once its status line has arrived. */
  get status(): number | undefined {
    const match = /^HTTP\/1\.1 (\d{3}) /.exec(this.data.toString('latin1'));
    return match ? Number(match[1]) : undefined;
  }

  /** What came after the response's head. */
  get afterHead(): Buffer {
    const data = this.data;
    const end = data.indexOf('\r\n\r\n');
    return end === -1 ? Buffer.alloc(0) : data.subarray(end + 4);
  }
}

/** An unmasked text frame "hi": clients must mask theirs, so a server must reject it. */
const UNMASKED_TEXT_FRAME = Buffer.from([0x81, 0x02, 0x68, 0x69]);

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('regressions', () => {
    describe('sockets refused with a close code', () => {
      const fixture = appForEachTest({
        websocket: { maxConnections: 1, closeTimeout: CLOSE_TIMEOUT },
      });

      it('cannot crash the server by sending a bad frame right after the handshake', async () => {
        const uncaught = recordUncaught(fixture.harness);
        const first = await fixture.connect();
        const raw = await RawSocket.connect(fixture.harness, fixture.app.port);
        const request = upgradeRequest(fixture.app.port, '/ws');
        raw.socket.write(Buffer.concat([Buffer.from(request, 'latin1'), UNMASKED_TEXT_FRAME]));

        await until(() => raw.status !== undefined);
        expect(raw.status).toBe(101);
        await until(() => raw.afterHead.length >= 4);
        const close = raw.afterHead;
        expect(close[0]).toBe(0x88); // FIN + close
        expect(close.readUInt16BE(2)).toBe(CloseCode.ServerFull);
        await until(() => raw.endedAt !== undefined, CLOSE_TIMEOUT + SLACK);
        expect(raw.endedAt! - raw.firstDataAt!).toBeLessThanOrEqual(CLOSE_TIMEOUT + SLACK);

        await expectAlive(first);
        expect(fixture.hub.connections.count()).toBe(1);
        await new Promise((resolve) => setTimeout(resolve, 50)); // let deferred throws surface
        expect(uncaught).toEqual([]);
      });

      it('cuts a refused socket that never answers the close within closeTimeout', async () => {
        const first = await fixture.connect();
        const raw = await RawSocket.connect(fixture.harness, fixture.app.port);
        raw.socket.write(upgradeRequest(fixture.app.port, '/ws'));

        await until(() => raw.status !== undefined);
        expect(raw.status).toBe(101);
        await until(() => raw.afterHead.length >= 4);
        expect(raw.afterHead.readUInt16BE(2)).toBe(CloseCode.ServerFull);
        // ws alone would wait 30 s for the client's close frame.
        await until(() => raw.endedAt !== undefined, CLOSE_TIMEOUT + SLACK);
        expect(raw.endedAt! - raw.firstDataAt!).toBeGreaterThanOrEqual(CLOSE_TIMEOUT - 50);
        expect(raw.endedAt! - raw.firstDataAt!).toBeLessThanOrEqual(CLOSE_TIMEOUT + SLACK);
        await expectAlive(first);
      });
    });

    describe('handshake checks', () => {
      let authenticateCalls = 0;
      /** Anonymous, or `?user=`; `?hang=1` never resolves. */
      const authenticate = (request: IncomingMessage) => {
        authenticateCalls++;
        if (queryParam(request, 'hang') !== null) return new Promise<never>(() => undefined);
        return userFromQuery(request);
      };
      const HANDSHAKE_TIMEOUT = 200;
      const fixture = appForEachTest({
        authenticate,
        websocket: { handshakeTimeout: HANDSHAKE_TIMEOUT },
      });

      /** Sends an upgrade request and waits for the whole response (the server closes after it). */
      async function upgrade(
        path: string,
        headers?: Record<string, string | undefined>,
      ): Promise<RawSocket> {
        const raw = await RawSocket.connect(fixture.harness, fixture.app.port);
        raw.socket.write(upgradeRequest(fixture.app.port, path, headers));
        return raw;
      }

      it('answers a request that is not a WebSocket handshake with 400, without authenticating', async () => {
        authenticateCalls = 0;
        const h2c = await upgrade('/ws', { Upgrade: 'h2c', Connection: 'Upgrade, HTTP2-Settings' });
        await until(() => h2c.endedAt !== undefined);
        expect(h2c.status).toBe(400);

        const keyless = await upgrade('/ws', { 'Sec-WebSocket-Key': undefined });
        await until(() => keyless.endedAt !== undefined);
        expect(keyless.status).toBe(400);

        const badVersion = await upgrade('/ws', { 'Sec-WebSocket-Version': '8' });
        await until(() => badVersion.endedAt !== undefined);
        expect(badVersion.status).toBe(400);
        expect(authenticateCalls).toBe(0);

        // The same request, well formed, is authenticated and accepted.
        const good = await upgrade('/ws');
        await until(() => good.status !== undefined);
        expect(good.status).toBe(101);
        expect(authenticateCalls).toBe(1);
      });

      it('answers 503 when authenticate outlasts handshakeTimeout', async () => {
        authenticateCalls = 0;
        const started = Date.now();
        const raw = await upgrade('/ws?hang=1');
        await until(() => raw.endedAt !== undefined, HANDSHAKE_TIMEOUT + 2_000);
        expect(raw.status).toBe(503);
        expect(authenticateCalls).toBe(1);
        const elapsed = raw.firstDataAt! - started;
        expect(elapsed).toBeGreaterThanOrEqual(HANDSHAKE_TIMEOUT - 20);
        expect(elapsed).toBeLessThanOrEqual(HANDSHAKE_TIMEOUT + SLACK);
        expect(fixture.hub.connections.count()).toBe(0);
      });

      it('closes promptly with a handshake still authenticating, refusing it with 503', async () => {
        authenticateCalls = 0;
        const { harness } = fixture;
        const app = await harness.start({ authenticate, websocket: { handshakeTimeout: 60_000 } });
        const raw = await RawSocket.connect(harness, app.port);
        raw.socket.write(upgradeRequest(app.port, '/ws?hang=1'));
        await until(() => authenticateCalls === 1);

        harness.forget(app);
        const started = Date.now();
        const closed = await Promise.race([
          app.close().then(() => 'closed'),
          new Promise((resolve) => setTimeout(resolve, 2_000, 'still closing')),
        ]);
        expect(closed).toBe('closed');
        expect(Date.now() - started).toBeLessThan(2_000);
        await until(() => raw.endedAt !== undefined);
        expect(raw.status).toBe(503);
      });
    });
  });
});
