import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it, vi } from 'vitest';
import { WsConnection } from '../../../lib/index.js';
import { startApp } from '../../support/app.js';
import { appForAllTests, leftovers } from '../../support/fixtures.js';
import { HandlersGateway, SecondGateway, type HookCall } from '../../support/handlers-gateways.js';
import type { Frame, TestClient } from '../../support/ws-client.js';

@WebSocketGateway({ path: '/other' })
class OtherPathGateway {
  @SubscribeMessage('x')
  x() {
    return 1;
  }
}

@WebSocketGateway(4000)
class OwnPortGateway {
  @SubscribeMessage('x')
  x() {
    return 1;
  }
}

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

  describe('start-up', () => {
    it('fails when a gateway asks for another path, naming the path', async () => {
      await expect(startApp({}, { providers: [OtherPathGateway] })).rejects.toThrow(/\/other/);
    });

    it('fails when a gateway asks for its own port', async () => {
      await expect(startApp({}, { providers: [OwnPortGateway] })).rejects.toThrow(/4000/);
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
