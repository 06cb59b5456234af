import {
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import { IncomingMessage } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { RealtimeError, WsConnection } from '../../../lib/index.js';
import {
  appForAllTests,
  appForEachTest,
  errorReply,
  expectAlive,
  leftovers,
  recordUncaught,
  until,
  withHarness,
} from '../../support/fixtures.js';
import {
  HandlersGateway,
  SecondGateway,
  type HookCall,
  FlowGateway,
} from '../../support/handlers-gateways.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import type { Frame, TestClient } from '../../support/ws-client.js';
import { eventIs } from '../../support/ws-client.js';

/** Tracks how many `slow` handlers run at once. */
const slowStats = { running: 0, max: 0, calls: 0 };

@WebSocketGateway()
class SlowGateway {
  @SubscribeMessage('slow')
  async slow(@MessageBody() n: unknown) {
    slowStats.calls++;
    slowStats.running++;
    slowStats.max = Math.max(slowStats.max, slowStats.running);
    try {
      await delay(1 + Math.floor(Math.random() * 10));
      return n;
    } finally {
      slowStats.running--;
    }
  }
}

function connectedHooksFor(calls: HookCall[], id: string): HookCall[] {
  return calls.filter((call) => (call.client as WsConnection).id === id);
}

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('application handlers', () => {
    const rt = appForAllTests({}, { providers: [HandlersGateway, SecondGateway] });
    const { connect, harness } = rt;

    /** A client of a fresh app running SlowGateway with maxPendingRequests 4; slowStats reset. */
    async function connectToSlowApp(): Promise<TestClient> {
      const slowApp = await harness.start(
        { websocket: { maxPendingRequests: 4 } },
        { providers: [SlowGateway] },
      );
      const client = await harness.connect(slowApp.wsUrl);
      slowStats.calls = 0;
      slowStats.max = 0;
      return client;
    }

    describe('connections', () => {
      it('calls handleConnection and handleDisconnect once per connection, with the WsConnection', async () => {
        const gateway = rt.app.app.get(HandlersGateway);
        const second = rt.app.app.get(SecondGateway);
        const client = await connect();
        const id = client.connectionId;

        await vi.waitFor(() => {
          expect(connectedHooksFor(gateway.connected, id)).toHaveLength(1);
          expect(connectedHooksFor(second.connected, id)).toHaveLength(1);
        });
        const [call] = connectedHooksFor(gateway.connected, id);
        const connection = call!.client as WsConnection;
        expect(connection).toBeInstanceOf(WsConnection);
        expect(connection.id).toBe(id);
        const request = call!.request as IncomingMessage;
        expect(request.url).toBe('/ws');
        expect(request.headers.upgrade?.toLowerCase()).toBe('websocket');
        expect(connectedHooksFor(second.connected, id)[0]!.client).toBe(connection);
        expect(connectedHooksFor(gateway.disconnected, id)).toHaveLength(0);

        await client.close();
        await vi.waitFor(() => {
          expect(connectedHooksFor(gateway.disconnected, id)).toHaveLength(1);
          expect(connectedHooksFor(second.disconnected, id)).toHaveLength(1);
        });
        expect(connectedHooksFor(gateway.disconnected, id)[0]!.client).toBe(connection);
        await delay(100);
        expect(connectedHooksFor(gateway.connected, id)).toHaveLength(1);
        expect(connectedHooksFor(gateway.disconnected, id)).toHaveLength(1);
        expect(connectedHooksFor(second.connected, id)).toHaveLength(1);
        expect(connectedHooksFor(second.disconnected, id)).toHaveLength(1);
      });

      it('keeps of the upgrade request its url, headers and socket only (client.request)', async () => {
        const gateway = rt.app.app.get(HandlersGateway);
        const client = await connect();
        await vi.waitFor(() =>
          expect(connectedHooksFor(gateway.connected, client.connectionId)).toHaveLength(1),
        );
        const [call] = connectedHooksFor(gateway.connected, client.connectionId);
        const { request } = call!.client as WsConnection;
        const upgrade = call!.request as IncomingMessage;
        // handleConnection gets the IncomingMessage itself; the connection keeps three fields of it.
        expect(upgrade).toBeInstanceOf(IncomingMessage);
        expect(request).not.toBeInstanceOf(IncomingMessage);
        expect(Object.keys(request).toSorted()).toStrictEqual(['headers', 'socket', 'url']);
        expect(request.url).toBe('/ws');
        // Every header but the handshake's own (sec-websocket-*, upgrade, connection).
        const { upgrade: _u, connection: _c, ...others } = upgrade.headers;
        const kept = Object.fromEntries(
          Object.entries(others).filter(([name]) => !name.startsWith('sec-websocket-')),
        );
        expect(request.headers).toStrictEqual(kept);
        expect(request.headers.host).toBe(upgrade.headers.host);
        expect(request.headers.upgrade).toBeUndefined();
        expect(request.headers['sec-websocket-key']).toBeUndefined();
        expect(request.socket).toBe(upgrade.socket);
        expect(request.socket.remoteAddress).toBe('127.0.0.1');
        await client.close();
      });

      it('binds the handlers of two gateways on one connection', async () => {
        const client = await connect();
        expect(await client.request('value', 'a')).toEqual({
          event: 'rt:reply',
          id: 1,
          data: { got: 'a' },
        });
        expect(await client.request('second', 'b')).toEqual({
          event: 'rt:reply',
          id: 2,
          data: { second: 'b' },
        });
        client.send({ event: 'second', data: 'c' });
        expect(await client.next()).toEqual({ event: 'second', data: { second: 'c' } });
      });

      it('client.emit from a handler reaches only that client', async () => {
        const client = await connect();
        const bystander = await connect();
        client.send({ event: 'emit', id: 31 });
        expect(await client.next((f) => f.event === 'custom')).toEqual({
          event: 'custom',
          data: { a: 1 },
        });
        expect(await client.next((f) => f.event === 'rt:reply')).toEqual({
          event: 'rt:reply',
          id: 31,
          data: null,
        });
        client.send({ event: 'emit' });
        expect(await client.next()).toEqual({ event: 'custom', data: { a: 1 } });
        expect(await leftovers(client)).toEqual([]);
        expect(await leftovers(bystander, 50)).toEqual([]);
      });
    });

    describe('flow control', () => {
      it('answers 200 concurrent requests exactly once each with maxPendingRequests 4', async () => {
        const client = await connectToSlowApp();
        const ids: (number | string)[] = [];
        for (let i = 0; i < 200; i++) ids.push(i % 2 === 0 ? i : `s${i}`);
        // All in one go, so that the frames reach the server together.
        for (const id of ids) client.send({ event: 'slow', data: { echo: id }, id });

        await vi.waitFor(
          () => expect(client.frames.filter((f) => f.event === 'rt:reply')).toHaveLength(200),
          { timeout: 15_000, interval: 20 },
        );
        const replies = await leftovers(client, 200);
        expect(replies).toHaveLength(200);
        const byId = new Map<number | string, Frame[]>();
        for (const reply of replies) {
          expect(reply.event).toBe('rt:reply');
          byId.set(reply.id!, [...(byId.get(reply.id!) ?? []), reply]);
        }
        expect(byId.size).toBe(200);
        expect(ids.map((id) => byId.get(id))).toEqual(
          ids.map((id) => [{ event: 'rt:reply', id, data: { echo: id } }]),
        );
        expect(slowStats.calls).toBe(200);
        client.frames.splice(0);
        // The server still answers on that connection afterwards.
        expect(await client.request('slow', 'last')).toEqual({
          event: 'rt:reply',
          id: 1,
          data: 'last',
        });
      });

      it('never runs more than maxPendingRequests handlers of one client at once', async () => {
        const client = await connectToSlowApp();
        for (let id = 0; id < 200; id++) client.send({ event: 'slow', data: id, id });
        await vi.waitFor(
          () => expect(client.frames.filter((f) => f.event === 'rt:reply')).toHaveLength(200),
          { timeout: 15_000, interval: 20 },
        );
        expect(slowStats.calls).toBe(200);
        expect(slowStats.max).toBeLessThanOrEqual(4);
      });
    });
  });

  describe('regressions', () => {
    @WebSocketGateway()
    class RecordingGateway implements OnGatewayConnection, OnGatewayDisconnect {
      readonly connections: WsConnection[] = [];
      readonly disconnects: { id: string; info: unknown }[] = [];

      handleConnection(client: WsConnection): void {
        this.connections.push(client);
      }

      handleDisconnect(client: WsConnection, info: unknown): void {
        this.disconnects.push({ id: client.id, info });
      }
    }

    @WebSocketGateway()
    class ThrowingConnectGateway implements OnGatewayConnection {
      handleConnection(): void {
        throw new Error('handleConnection boom');
      }

      @SubscribeMessage('echo')
      echo() {
        return 'echoed';
      }
    }

    describe('gateway hooks and closed connections', () => {
      const fixture = appForEachTest({}, { providers: [RecordingGateway] });
      const gateway = () => fixture.app.app.get(RecordingGateway);

      it('rejects hub.join of a connection that closed, and leaves no trace of it', async () => {
        const { hub } = fixture;
        const baseline = hub.connections.count();
        const client = await fixture.connect();
        const stored = gateway().connections.find((c) => c.id === client.connectionId)!;
        expect(stored).toBeInstanceOf(WsConnection);

        await client.close();
        await until(() => hub.connections.count() === baseline);

        const error = await hub.join(stored, 'late').then(
          () => undefined,
          (reason: unknown) => reason,
        );
        expect(error).toBeInstanceOf(RealtimeError);
        expect(error).toMatchObject({ code: 'INVALID_DATA' });
        await expect(hub.join(stored.id, 'late')).rejects.toMatchObject({ code: 'INVALID_DATA' });
        expect(hub.connections.subscribers('r:late')).toBeUndefined();
        expect(await hub.roomMembers('late')).toEqual([]);
        expect(await hub.roomInfo('late')).toBeUndefined();
        expect([...stored.rooms]).toEqual([]);
      });

      it('passes handleDisconnect the close code and reason the client sent', async () => {
        const client = await fixture.connect();
        client.socket.close(4100, 'bye');
        expect(await client.closed).toBe(4100);
        await until(() => gateway().disconnects.length === 1);
        expect(gateway().disconnects).toEqual([
          { id: client.connectionId, info: { code: 4100, reason: 'bye' } },
        ]);
      });
    });

    describe('a gateway whose handleConnection throws', () => {
      const fixture = appForEachTest({}, { providers: [ThrowingConnectGateway] });

      it('still connects the client and answers its requests, and the process survives', async () => {
        const uncaught = recordUncaught(fixture.harness);
        const client = await fixture.connect();
        expect(client.connected).toEqual({
          event: 'rt:connected',
          data: {
            connectionId: expect.any(String),
            userId: null,
            pingInterval: 25_000,
            pongTimeout: 10_000,
          },
        });
        const reply = await client.request('echo');
        expect(reply).toEqual({ event: 'rt:reply', id: reply.id, data: 'echoed' });
        await expectAlive(client);
        await delay(50); // errors rethrown on a timer surface by now
        // Without a listener, an uncaught exception ends a Node process.
        expect(uncaught).toEqual([]);
      });
    });

    /** What a loaded machine may add to a timer before it fires. */
    const SLACK = 1_000;

    describe('stream slots', () => {
      const fixture = appForEachTest(
        { websocket: { maxPendingRequests: 2 } },
        { providers: [FlowGateway] },
      );

      it('gives a stream its slot back after its first value, and refuses one stream too many', async () => {
        const client = await fixture.connect();
        const ticksOf = (label: string) =>
          client.frames.filter(
            (frame: Frame) => frame.event === 'tick' && frame.data.label === label,
          ).length;
        client.send({ event: 'ticks', data: 'a' });
        client.send({ event: 'ticks', data: 'b' });

        // Two streams open, as many as slots: requests are still read and answered.
        const started = Date.now();
        const joined = await client.request('rt:join', { room: 'streams' });
        expect(joined).toEqual({
          event: 'rt:reply',
          id: joined.id,
          data: expect.objectContaining({ name: 'streams', size: 1 }),
        });
        expect(Date.now() - started).toBeLessThan(SLACK);

        client.send({ event: 'ticks', data: 'c' });
        expect(await client.next(eventIs('rt:error'))).toEqual({
          event: 'rt:error',
          data: { code: 'TOO_MANY_REQUESTS', message: expect.any(String), event: 'ticks' },
        });
        const refused = await client.request('ticks', 'd');
        expect(refused).toEqual(errorReply(refused.id!, 'TOO_MANY_REQUESTS'));

        const [a, b] = [ticksOf('a'), ticksOf('b')];
        await delay(300);
        expect(ticksOf('a')).toBeGreaterThanOrEqual(a + 5);
        expect(ticksOf('b')).toBeGreaterThanOrEqual(b + 5);
        expect(ticksOf('c')).toBe(0);
        expect(ticksOf('d')).toBe(0);
        await expectAlive(client);
      });
    });

    describe('handler teardowns', () => {
      const harness = withHarness();

      it('survive a teardown that throws when the client disconnects', async () => {
        const uncaught = recordUncaught(harness);
        const app = await harness.start({}, { providers: [FlowGateway] });
        const baseline = app.hub.connections.count();
        const client = await harness.connect(app.wsUrl);
        client.send({ event: 'fragile' });
        await expectAlive(client); // frames are handled in order: 'fragile' is subscribed
        expect(app.hub.connections.count()).toBe(baseline + 1);

        await client.close();
        await until(() => app.hub.connections.count() === baseline);

        harness.forget(app);
        const closing = app.close().then(() => 'closed');
        const outcome = await Promise.race([closing, delay(2_000, 'still closing')]);
        expect(outcome).toBe('closed');
        await delay(50); // let deferred throws surface
        expect(uncaught).toEqual([]);
      });
    });
  });
});
