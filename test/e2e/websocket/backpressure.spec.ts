import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode, WsConnection } from '../../../lib/index.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { appForEachTest, expectAlive, join, until, userFromQuery } from '../../support/fixtures.js';
import { FlowGateway, SLOW_MS } from '../../support/handlers-gateways.js';
import { eventIs } from '../../support/ws-client.js';

const MAX_BUFFERED = 256 * 1024;
describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  const rt = appForEachTest({
    authenticate: userFromQuery,
    websocket: { maxBufferedBytes: MAX_BUFFERED, closeTimeout: 300 },
  });

  /** A raw ws client that joined `room` and then stopped reading its socket. */
  async function stalledMember(user: string, room: string): Promise<WebSocket> {
    const client = await rt.connect(user);
    await join(client, room);
    client.socket.pause();
    return client.socket;
  }

  function serverSide(user: string): WsConnection {
    return rt.hub.connections.listByUser(user)[0] as WsConnection;
  }

  describe('a client that does not read', () => {
    it('loses volatile messages, stays connected, and holds at most maxBufferedBytes', async () => {
      const stalled = await stalledMember('slow', 'r');
      const reader = await rt.connect('fast');
      await join(reader, 'r');
      const connection = serverSide('slow');
      const payload = 'x'.repeat(16 * 1024);
      let held = 0;
      for (let i = 0; i < 1_000; i++) {
        await rt.hub.to('r').volatile.emit('tick', payload); // 16 MiB in all
        held = Math.max(held, connection.socket.bufferedAmount);
      }
      // Half of the bound, plus at most the one tick's frames written before it was reached.
      expect(held).toBeLessThan(MAX_BUFFERED);
      expect(connection.isOpen).toBe(true);
      await rt.hub.to('r').emit('important', 1); // not volatile: never dropped
      expect((await reader.next(eventIs('important'))).data).toBe(1);
      stalled.resume();
      await until(() => connection.socket.bufferedAmount === 0, 5_000);
      expect(connection.isOpen).toBe(true);
    });

    it('is closed with 4002 when messages that may not be dropped pile up, holding no more than the bound', async () => {
      const stalled = await stalledMember('slow', 'r');
      const closed = new Promise<number>((resolve) => stalled.once('close', resolve));
      const connection = serverSide('slow');
      const payload = 'x'.repeat(16 * 1024);
      let held = 0;
      for (let i = 0; i < 1_000 && connection.isOpen; i++) {
        await rt.hub.to('r').emit('tick', payload);
        held = Math.max(held, connection.socket.bufferedAmount);
      }
      expect(connection.isOpen).toBe(false);
      // The bound, plus the frame that crossed it.
      expect(held).toBeLessThanOrEqual(MAX_BUFFERED + 17 * 1024);
      stalled.resume();
      const code = await closed;
      // The close frame waits behind unread data; the cut after closeTimeout comes first
      // unless the client catches up in time.
      expect([CloseCode.SlowConsumer, 1006]).toContain(code);
      await until(() => rt.hub.connections.countByUser('slow') === 0, 2_000);
    });
  });

  describe('regressions', () => {
    describe('closing', () => {
      const fixture = appForEachTest({
        authenticate: userFromQuery,
        websocket: { maxBufferedBytes: 64 * 1024 },
      });

      it('closes a client that stops reading with 4002, and only that one', async () => {
        const reader = await fixture.connect('reader');
        const stalled = new WebSocket(`${fixture.app.wsUrl}?user=stalled`);
        fixture.harness.trackSocket(stalled);
        await new Promise((resolve) => stalled.once('open', resolve));
        // Stop reading from the TCP socket: the server's writes pile up on its side.
        stalled.pause();
        let received = 0;
        stalled.on('message', () => received++);
        const closed = new Promise<number>((resolve) => stalled.once('close', resolve));

        const payload = 'x'.repeat(16 * 1024);
        const sent = 2_000; // 32 MiB: far past what the kernel buffers on loopback
        for (let i = 0; i < sent; i++) await fixture.hub.toUser('stalled').emit('bulk', payload);
        await fixture.hub.toUser('reader').emit('ping', 1);
        expect((await reader.next(eventIs('ping'))).data).toBe(1);

        stalled.resume();
        expect(await closed).toBe(CloseCode.SlowConsumer);
        expect(received).toBeGreaterThan(0);
        expect(received).toBeLessThan(sent);
        await expectAlive(reader);
      });
    });

    /** What a loaded machine may add to a timer before it fires. */
    const SLACK = 1_000;

    describe('backpressure and the heartbeat', () => {
      const fixture = appForEachTest(
        { websocket: { maxPendingRequests: 1, pingInterval: 200, pongTimeout: 300 } },
        { providers: [FlowGateway] },
      );

      it('does not terminate a healthy client while its socket is not read', async () => {
        const client = await fixture.connect();
        const started = Date.now();
        // The server stops reading this socket for 1.5 s: several heartbeat rounds, whose
        // pongs it cannot read until the handler is done.
        const reply = await client.request('slow', 7);
        expect(reply).toEqual({ event: 'rt:reply', id: reply.id, data: { slow: 7 } });
        expect(Date.now() - started).toBeGreaterThanOrEqual(SLOW_MS - 20);
        expect(client.closeCode).toBeUndefined();
        await expectAlive(client);
        // Reading again, it is held to the heartbeat again, and answers it.
        await delay(700);
        expect(client.closeCode).toBeUndefined();
        await expectAlive(client);
      });
    });

    describe('slow consumers', () => {
      const CLOSE_TIMEOUT = 300;
      const fixture = appForEachTest({
        authenticate: userFromQuery,
        websocket: { maxBufferedBytes: 64 * 1024, closeTimeout: CLOSE_TIMEOUT },
      });

      it('cuts a client that never reads again within closeTimeout of the flood', async () => {
        const { hub } = fixture;
        const reader = await fixture.connect('reader');
        const stalled = fixture.harness.trackSocket(
          new WebSocket(`${fixture.app.wsUrl}?user=stalled`),
        );
        await new Promise((resolve) => stalled.once('open', resolve));
        stalled.pause(); // never resumed: it will not read the close frame either
        const [connection] = hub.connections.listByUser('stalled') as WsConnection[];
        expect(connection).toBeInstanceOf(WsConnection);

        const payload = 'x'.repeat(16 * 1024);
        let sent = 0;
        while (connection!.isOpen && sent < 4_000) {
          await hub.toUser('stalled').emit('bulk', payload);
          sent++;
        }
        const floodEnd = Date.now();
        expect(connection!.isOpen).toBe(false); // it was cut by the flood, not by the bound

        await hub.toUser('reader').emit('ping', 1);
        expect((await reader.next(eventIs('ping'))).data).toBe(1);

        await until(() => !hub.connections.has(connection!), CLOSE_TIMEOUT + SLACK);
        expect(Date.now() - floodEnd).toBeLessThanOrEqual(CLOSE_TIMEOUT + SLACK);
        expect(hub.connections.listByUser('stalled')).toEqual([]);
        await expectAlive(reader);
      });
    });
  });
});
