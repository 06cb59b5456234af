import { Module } from '@nestjs/common';
import { connect as tcpConnect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import {
  RealtimeConfigError,
  RealtimeHub,
  RealtimeModule,
  RealtimeWsServer,
  type RealtimeModuleOptions,
} from '../../../lib/index.js';
import { listen, type TestApp, PLATFORMS, usePlatform } from '../../support/app.js';
import { userFromQuery, withHarness } from '../../support/fixtures.js';

// -- helpers (local to this file) ----------------------------------------------

const { start, track, forget, connect, trackSocket, handshake, defer } = withHarness();

/** Closes an app inside a test (and not again after it); resolves with the ms it took. */
async function closeApp(app: TestApp): Promise<number> {
  forget(app);
  const started = performance.now();
  await app.close();
  return performance.now() - started;
}

/** Starts an app with options meant to fail start-up (unchecked, as plain JavaScript may pass them). */
const startWithBadOptions = (options: unknown) =>
  start(options as RealtimeModuleOptions, {}, { logger: false });

/**
 * A WebSocket client written on a bare TCP socket: it completes the handshake,
 * records the server's frames, and never answers anything (no pong, no close).
 */
class SilentPeer {
  private buffer = Buffer.alloc(0);
  private headerDone = false;
  readonly frames: { opcode: number; payload: Buffer }[] = [];
  readonly ended: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    socket.on('error', () => undefined);
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(port: number, path: string): Promise<SilentPeer> {
    const socket = tcpConnect(port, '127.0.0.1');
    defer(() => socket.destroy());
    const peer = new SilentPeer(socket);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\n\r\n',
    );
    await vi.waitFor(() => {
      if (peer.frames.length === 0) throw new Error('no frame yet');
    });
    return peer;
  }

  closeCode(): number | undefined {
    const close = this.frames.find((f) => f.opcode === 0x8);
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : undefined;
  }

  private parse(): void {
    if (!this.headerDone) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const head = this.buffer.subarray(0, end).toString();
      if (!head.startsWith('HTTP/1.1 101')) throw new Error(`handshake refused: ${head}`);
      this.headerDone = true;
      this.buffer = this.buffer.subarray(end + 4);
    }
    for (;;) {
      if (this.buffer.length < 2) return;
      let length = this.buffer[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (this.buffer.length < 4) return;
        length = this.buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.buffer.length < 10) return;
        length = Number(this.buffer.readBigUInt64BE(2));
        offset = 10;
      }
      if (this.buffer.length < offset + length) return;
      this.frames.push({
        opcode: this.buffer[0]! & 0x0f,
        payload: this.buffer.subarray(offset, offset + length),
      });
      this.buffer = this.buffer.subarray(offset + length);
    }
  }
}

afterEach(() => {
  vi.restoreAllMocks();
});

// -- tests ----------------------------------------------------------------------

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('path', () => {
    it('answers an upgrade on another path with HTTP 404', async () => {
      const app = await start({});
      expect((await handshake(`ws://127.0.0.1:${app.port}/nope`)).status).toBe(404);
      expect((await handshake(`ws://127.0.0.1:${app.port}/ws/sub`)).status).toBe(404);
      expect((await handshake(`${app.wsUrl}?token=x`)).status).toBe(101);
      await vi.waitFor(() => expect(app.app.get(RealtimeHub).connections.count()).toBe(1));
    });
  });

  describe('heartbeat', () => {
    const websocket = { pingInterval: 100, pongTimeout: 100 };

    it('keeps a client that answers pings connected', async () => {
      const app = await start({ websocket });
      const client = await connect(app.wsUrl);
      let pings = 0;
      client.socket.on('ping', () => pings++);
      await sleep(600);
      expect(pings).toBeGreaterThanOrEqual(3);
      expect(client.closeCode).toBeUndefined();
      expect(client.socket.readyState).toBe(WebSocket.OPEN);
      expect((await client.request('rt:join', { room: 'r' })).data).toMatchObject({ size: 1 });
    });

    it('terminates a client that does not answer pings and removes every trace of it', async () => {
      const app = await start({ websocket, authenticate: userFromQuery });
      const hub = app.app.get(RealtimeHub);
      const healthy = await connect(`${app.wsUrl}?user=healthy`);
      await healthy.request('rt:join', { room: 'hb' });

      const silent = await connect(`${app.wsUrl}?user=silent`, { autoPong: false });
      const connectedAt = performance.now();
      let pings = 0;
      silent.socket.on('ping', () => pings++);
      await silent.request('rt:join', { room: 'hb' });
      expect(hub.connections.countByUser('silent')).toBe(1);

      expect(await silent.closed).toBe(1006);
      const elapsed = performance.now() - connectedAt;
      expect(elapsed).toBeLessThan(100 + 100 + 250);
      expect(pings).toBeGreaterThanOrEqual(1);

      await vi.waitFor(async () => {
        expect(hub.connections.count()).toBe(1);
        expect(hub.connections.countByUser('silent')).toBe(0);
        expect((await hub.roomMembers('hb')).map((m) => m.userId)).toEqual(['healthy']);
      });
      expect(await hub.roomUsers('hb')).toEqual(['healthy']);
      expect(app.app.get(RealtimeWsServer).clients.size).toBe(1);
      expect(healthy.socket.readyState).toBe(WebSocket.OPEN);
    });
  });

  describe('graceful shutdown', () => {
    it('closes connected clients with 1001 and resolves promptly', async () => {
      const app = await start({ websocket: { closeTimeout: 3_000 } });
      const a = await connect(app.wsUrl);
      const b = await connect(app.wsUrl);
      await a.request('rt:join', { room: 'r' });

      const elapsed = await closeApp(app);
      expect(await a.closed).toBe(1001);
      expect(await b.closed).toBe(1001);
      // The clients answered the close at once: no wait for closeTimeout (3 s).
      expect(elapsed).toBeLessThan(1_000);
    });

    it('cuts a client that never answers the close after websocket.closeTimeout', async () => {
      const app = await start({ websocket: { closeTimeout: 200 } });
      const peer = await SilentPeer.connect(app.port, '/ws');
      expect(JSON.parse(peer.frames[0]!.payload.toString()).event).toBe('rt:connected');

      const elapsed = await closeApp(app);
      expect(peer.closeCode()).toBe(1001);
      await peer.ended; // the server cut the TCP connection
      expect(elapsed).toBeGreaterThanOrEqual(180);
      expect(elapsed).toBeLessThan(1_500);
    });

    it('does not leave a handshake that was authenticating at shutdown open, nor hang', async () => {
      const app = await start({
        websocket: { closeTimeout: 200 },
        authenticate: async () => {
          await sleep(300);
          return { userId: 'late' };
        },
      });
      const socket = trackSocket(new WebSocket(app.wsUrl));
      const seen: string[] = [];
      socket.on('open', () => seen.push('open'));
      socket.on('close', (code) => seen.push(`close ${code}`));
      socket.on('error', () => undefined);
      socket.on('unexpected-response', (_request, response) => {
        response.resume();
        seen.push(`HTTP ${response.statusCode}`);
      });
      await sleep(50); // the hook is running now

      forget(app);
      const started = performance.now();
      const closing = app.close().then(() => performance.now() - started);
      const elapsed = await Promise.race([closing, sleep(3_000).then(() => Infinity)]);
      await sleep(400); // past the end of the hook
      const openAfterShutdown = socket.readyState === WebSocket.OPEN;
      socket.terminate(); // lets a hung close finish
      await Promise.race([closing, sleep(2_000)]);

      // Refusing the handshake, or accepting it and closing it with 1001, are both fine.
      expect({
        closedPromptly: elapsed < 2_000,
        openAfterShutdown,
        acceptedWithout1001: seen.includes('open') && !seen.includes('close 1001'),
      }).toEqual({ closedPromptly: true, openAfterShutdown: false, acceptedWithout1001: false });
    });
  });

  describe('options are checked at start-up', () => {
    it('rejects websocket.pingInterval -1 with a message naming it', async () => {
      const error = await startWithBadOptions({ websocket: { pingInterval: -1 } }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RealtimeConfigError);
      expect((error as Error).message).toBe(
        'Invalid nest-realtime option "websocket.pingInterval": expected a positive integer (ms, at most 2147483647), got -1',
      );
    });

    it('rejects engine type "mongo" naming engine.type', async () => {
      await expect(startWithBadOptions({ engine: { type: 'mongo' } })).rejects.toThrow(
        /engine\.type/,
      );
    });

    it('rejects websocket.path without a leading slash naming websocket.path', async () => {
      await expect(startWithBadOptions({ websocket: { path: 'ws' } })).rejects.toThrow(
        /websocket\.path/,
      );
    });

    it('rejects an unknown key naming it', async () => {
      await expect(startWithBadOptions({ websocket: { pingIntreval: 5 } })).rejects.toThrow(
        /websocket\.pingIntreval/,
      );
    });

    it('rejects a non-function authenticate naming it', async () => {
      await expect(startWithBadOptions({ authenticate: 'x' })).rejects.toThrow(/"authenticate"/);
    });
  });

  describe('forRootAsync', () => {
    it('serves on the path the factory returns', async () => {
      @Module({
        imports: [
          RealtimeModule.forRootAsync({
            useFactory: async () => {
              await sleep(5);
              return { websocket: { path: '/live' } };
            },
          }),
        ],
      })
      class AsyncRootModule {}
      const app = track(await listen(AsyncRootModule, '/live'));
      expect(app.wsUrl).toMatch(/\/live$/);
      const client = await connect(app.wsUrl);
      expect((await client.request('rt:join', { room: 'r' })).data).toMatchObject({ size: 1 });
      expect(app.app.get(RealtimeHub).connections.count()).toBe(1);
      expect((await handshake(`ws://127.0.0.1:${app.port}/ws`)).status).toBe(404);
    });
  });

  describe('forRootAsync options', () => {
    it('are checked too: a bad one from the factory fails start-up naming it', async () => {
      @Module({
        imports: [
          RealtimeModule.forRootAsync({
            useFactory: async () => ({ websocket: { pongTimeout: 0 } }),
          }),
        ],
      })
      class BadAsyncModule {}
      await expect(listen(BadAsyncModule, '/ws', { logger: false })).rejects.toThrow(
        /websocket\.pongTimeout/,
      );
    });
  });

  describe('websocket: false', () => {
    it('handles no upgrade, while the hub still works', async () => {
      const app = await start({ websocket: false });
      expect(app.app.get(RealtimeWsServer).path).toBeUndefined();
      expect((await handshake(app.wsUrl)).status).toBe(404);

      const hub = app.app.get(RealtimeHub);
      expect(hub.connections.count()).toBe(0);
      expect(await hub.createRoom('lobby')).toMatchObject({ name: 'lobby', persistent: true });
      expect(await hub.roomInfo('lobby')).toMatchObject({ name: 'lobby', size: 0 });
      // Numbered like any room message, with no connection to receive it.
      await expect(hub.to('lobby').emit('x', 1)).resolves.toMatchObject({ offset: 1 });
    });
  });
});
