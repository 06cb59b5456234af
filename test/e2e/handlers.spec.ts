import { Injectable, UseGuards, type CanActivate, type PipeTransform } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WsException,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { of } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { WsConnection } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { TestClient, type Frame } from '../support/ws-client.js';

/** What a gateway's lifecycle hooks saw. */
interface HookCall {
  readonly client: unknown;
  readonly request?: unknown;
}

class DenyGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** Doubles a positive integer; refuses anything else with a WsException. */
class DoublePositivePipe implements PipeTransform {
  transform(value: unknown): number {
    if (!Number.isInteger(value) || (value as number) <= 0) {
      throw new WsException('expected a positive integer');
    }
    return (value as number) * 2;
  }
}

@Injectable()
@WebSocketGateway()
class HandlersGateway implements OnGatewayConnection, OnGatewayDisconnect {
  readonly connected: HookCall[] = [];
  readonly disconnected: HookCall[] = [];

  handleConnection(client: unknown, request: unknown): void {
    this.connected.push({ client, request });
  }

  handleDisconnect(client: unknown): void {
    this.disconnected.push({ client });
  }

  @SubscribeMessage('value')
  value(@MessageBody() data: unknown) {
    return { got: data };
  }

  @SubscribeMessage('promise')
  async promise(@MessageBody() data: unknown) {
    await delay(5);
    return { later: data };
  }

  @SubscribeMessage('observable')
  observable() {
    return of(1, 2, 3);
  }

  @SubscribeMessage('nothing')
  nothing(): void {}

  @SubscribeMessage('null')
  null() {
    return null;
  }

  @SubscribeMessage('ping')
  ping(@MessageBody() data: unknown) {
    return { event: 'pong', data };
  }

  @SubscribeMessage('ws-error')
  wsError() {
    throw new WsException('nope');
  }

  @SubscribeMessage('async-ws-error')
  async asyncWsError() {
    await delay(2);
    throw new WsException('nope');
  }

  @SubscribeMessage('coded-error')
  codedError() {
    throw new WsException({ code: 'OUT_OF_STOCK', message: 'gone', sku: 'x' });
  }

  @SubscribeMessage('crash')
  async crash() {
    await delay(2);
    throw new Error('boom');
  }

  @UseGuards(DenyGuard)
  @SubscribeMessage('guarded')
  guarded() {
    return 'should not run';
  }

  @SubscribeMessage('double')
  double(@MessageBody(DoublePositivePipe) n: number) {
    return n;
  }

  @SubscribeMessage('emit')
  emit(@ConnectedSocket() client: WsConnection): void {
    client.emit('custom', { a: 1 });
  }
}

@Injectable()
@WebSocketGateway()
class SecondGateway implements OnGatewayConnection, OnGatewayDisconnect {
  readonly connected: HookCall[] = [];
  readonly disconnected: HookCall[] = [];

  handleConnection(client: unknown, request: unknown): void {
    this.connected.push({ client, request });
  }

  handleDisconnect(client: unknown): void {
    this.disconnected.push({ client });
  }

  @SubscribeMessage('second')
  second(@MessageBody() data: unknown) {
    return { second: data };
  }
}

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

/** Every frame received and not consumed yet, after `ms` of quiet. */
async function leftovers(client: TestClient, ms = 150): Promise<Frame[]> {
  return client.collect(() => true, ms);
}

/**
 * Waits for `rt:connected` and returns its connectionId. (TestClient.connectionId
 * cannot be used after TestClient.connect: connect consumes the rt:connected frame.)
 */
async function connectionIdOf(client: TestClient): Promise<string> {
  const connected = await client.next((f) => f.event === 'rt:connected');
  return connected.data.connectionId as string;
}

function connectedHooksFor(calls: HookCall[], id: string): HookCall[] {
  return calls.filter((call) => (call.client as WsConnection).id === id);
}

describe('application handlers', () => {
  let app: TestApp;
  const clients: TestClient[] = [];
  const apps: TestApp[] = [];

  async function connect(url = app.wsUrl): Promise<TestClient> {
    const client = await TestClient.connect(url);
    clients.push(client);
    return client;
  }

  beforeAll(async () => {
    app = await startApp({}, { providers: [HandlersGateway, SecondGateway] });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(apps.splice(0).map((extra) => extra.close()));
  });

  afterAll(() => app.close());

  describe('return values with an id', () => {
    it('replies with a plain value', async () => {
      const client = await connect();
      client.send({ event: 'value', data: { n: 1 }, id: 11 });
      expect(await client.next((f) => f.event === 'rt:reply')).toEqual({
        event: 'rt:reply',
        id: 11,
        data: { got: { n: 1 } },
      });
      expect(await leftovers(client)).toEqual([]);
    });

    it('replies with the resolved value of a Promise', async () => {
      const client = await connect();
      client.send({ event: 'promise', data: 'p', id: 12 });
      expect(await client.next((f) => f.event === 'rt:reply')).toEqual({
        event: 'rt:reply',
        id: 12,
        data: { later: 'p' },
      });
      expect(await leftovers(client)).toEqual([]);
    });

    it('replies with the first value of an Observable, and only that', async () => {
      const client = await connect();
      client.send({ event: 'observable', id: 13 });
      expect(await client.next((f) => f.event === 'rt:reply')).toEqual({
        event: 'rt:reply',
        id: 13,
        data: 1,
      });
      expect(await leftovers(client)).toEqual([]);
    });

    it('replies with data null for undefined', async () => {
      const client = await connect();
      client.send({ event: 'nothing', id: 14 });
      expect(await client.next((f) => f.event === 'rt:reply')).toEqual({
        event: 'rt:reply',
        id: 14,
        data: null,
      });
      expect(await leftovers(client)).toEqual([]);
    });

    it('replies with a WsResponse as the data, as the handler returned it', async () => {
      const client = await connect();
      client.send({ event: 'ping', data: 5, id: 15 });
      expect(await client.next((f) => f.event === 'rt:reply')).toEqual({
        event: 'rt:reply',
        id: 15,
        data: { event: 'pong', data: 5 },
      });
      expect(await leftovers(client)).toEqual([]);
    });

    it('accepts string ids, up to 64 characters', async () => {
      const client = await connect();
      const long = 'i'.repeat(64);
      client.send({ event: 'value', data: 1, id: 'abc' });
      client.send({ event: 'promise', data: 2, id: long });
      client.send({ event: 'observable', id: 'obs' });
      client.send({ event: 'nothing', id: 'none' });
      expect(await client.next((f) => f.id === 'abc')).toEqual({
        event: 'rt:reply',
        id: 'abc',
        data: { got: 1 },
      });
      expect(await client.next((f) => f.id === long)).toEqual({
        event: 'rt:reply',
        id: long,
        data: { later: 2 },
      });
      expect(await client.next((f) => f.id === 'obs')).toEqual({
        event: 'rt:reply',
        id: 'obs',
        data: 1,
      });
      expect(await client.next((f) => f.id === 'none')).toEqual({
        event: 'rt:reply',
        id: 'none',
        data: null,
      });
      expect(await leftovers(client)).toEqual([]);
    });
  });

  describe('return values without an id', () => {
    it('sends a plain value back under the same event', async () => {
      const client = await connect();
      client.send({ event: 'value', data: [1, 2] });
      expect(await client.next()).toEqual({ event: 'value', data: { got: [1, 2] } });
      expect(await leftovers(client)).toEqual([]);
    });

    it('sends the resolved value of a Promise under the same event', async () => {
      const client = await connect();
      client.send({ event: 'promise', data: 'q' });
      expect(await client.next()).toEqual({ event: 'promise', data: { later: 'q' } });
      expect(await leftovers(client)).toEqual([]);
    });

    it('sends a WsResponse as it is', async () => {
      const client = await connect();
      client.send({ event: 'ping', data: { t: 1 } });
      expect(await client.next()).toEqual({ event: 'pong', data: { t: 1 } });
      expect(await leftovers(client)).toEqual([]);
    });

    it('sends every value of an Observable, in order', async () => {
      const client = await connect();
      client.send({ event: 'observable' });
      expect(await client.next()).toEqual({ event: 'observable', data: 1 });
      expect(await client.next()).toEqual({ event: 'observable', data: 2 });
      expect(await client.next()).toEqual({ event: 'observable', data: 3 });
      expect(await leftovers(client)).toEqual([]);
    });

    it('sends nothing for undefined or null', async () => {
      const client = await connect();
      client.send({ event: 'nothing' });
      client.send({ event: 'null' });
      expect(await leftovers(client, 250)).toEqual([]);
    });
  });

  describe('errors', () => {
    it('turns a WsException into an error reply, and nothing else, with an id', async () => {
      const client = await connect();
      client.send({ event: 'ws-error', id: 21 });
      expect(await client.next()).toEqual({
        event: 'rt:reply',
        id: 21,
        error: { code: 'HANDLER_ERROR', message: 'nope' },
      });
      expect(await leftovers(client)).toEqual([]);
    });

    it('turns a WsException thrown after an await into one error reply', async () => {
      const client = await connect();
      client.send({ event: 'async-ws-error', id: 'x1' });
      expect(await client.next()).toEqual({
        event: 'rt:reply',
        id: 'x1',
        error: { code: 'HANDLER_ERROR', message: 'nope' },
      });
      expect(await leftovers(client)).toEqual([]);
    });

    it('turns a WsException into an rt:error frame without an id', async () => {
      const client = await connect();
      client.send({ event: 'ws-error' });
      expect(await client.next()).toEqual({
        event: 'rt:error',
        data: { code: 'HANDLER_ERROR', message: 'nope', event: 'ws-error' },
      });
      expect(await leftovers(client)).toEqual([]);
    });

    it('keeps the code of a WsException object and puts its other fields in details', async () => {
      const client = await connect();
      client.send({ event: 'coded-error', id: 22 });
      expect(await client.next()).toEqual({
        event: 'rt:reply',
        id: 22,
        error: { code: 'OUT_OF_STOCK', message: 'gone', details: { sku: 'x' } },
      });
      client.send({ event: 'coded-error' });
      expect(await client.next()).toEqual({
        event: 'rt:error',
        data: {
          code: 'OUT_OF_STOCK',
          message: 'gone',
          details: { sku: 'x' },
          event: 'coded-error',
        },
      });
      expect(await leftovers(client)).toEqual([]);
    });

    it('reports a plain Error from an async handler as INTERNAL_ERROR and keeps serving', async () => {
      const client = await connect();
      client.send({ event: 'crash', id: 23 });
      expect(await client.next()).toEqual({
        event: 'rt:reply',
        id: 23,
        error: { code: 'INTERNAL_ERROR', message: 'Internal server error' },
      });
      client.send({ event: 'crash' });
      expect(await client.next()).toEqual({
        event: 'rt:error',
        data: { code: 'INTERNAL_ERROR', message: 'Internal server error', event: 'crash' },
      });
      expect(await leftovers(client)).toEqual([]);
      // The same connection, and a new one, are still answered.
      expect(await client.request('value', 'after')).toEqual({
        event: 'rt:reply',
        id: 1,
        data: { got: 'after' },
      });
      const other = await connect();
      expect((await other.request('value', 'fresh')).data).toEqual({ got: 'fresh' });
    });

    it('reports a guard refusing the frame as HANDLER_ERROR "Forbidden resource"', async () => {
      const client = await connect();
      client.send({ event: 'guarded', id: 24 });
      expect(await client.next()).toEqual({
        event: 'rt:reply',
        id: 24,
        error: { code: 'HANDLER_ERROR', message: 'Forbidden resource' },
      });
      client.send({ event: 'guarded' });
      expect(await client.next()).toEqual({
        event: 'rt:error',
        data: { code: 'HANDLER_ERROR', message: 'Forbidden resource', event: 'guarded' },
      });
      expect(await leftovers(client)).toEqual([]);
    });

    it('runs pipes: a transformed value is replied, a refused one is a HANDLER_ERROR', async () => {
      const client = await connect();
      expect(await client.request('double', 21)).toEqual({ event: 'rt:reply', id: 1, data: 42 });
      expect(await client.request('double', 'x')).toEqual({
        event: 'rt:reply',
        id: 2,
        error: { code: 'HANDLER_ERROR', message: 'expected a positive integer' },
      });
      expect(await leftovers(client)).toEqual([]);
    });
  });

  describe('connections', () => {
    it('calls handleConnection and handleDisconnect once per connection, with the WsConnection', async () => {
      const gateway = app.app.get(HandlersGateway);
      const second = app.app.get(SecondGateway);
      const client = await TestClient.open(app.wsUrl);
      clients.push(client);
      const id = await connectionIdOf(client);

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
      const slowApp = await startApp(
        { websocket: { maxPendingRequests: 4 } },
        { providers: [SlowGateway] },
      );
      apps.push(slowApp);
      const client = await connect(slowApp.wsUrl);
      slowStats.calls = 0;
      slowStats.max = 0;
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
      const slowApp = await startApp(
        { websocket: { maxPendingRequests: 4 } },
        { providers: [SlowGateway] },
      );
      apps.push(slowApp);
      const client = await connect(slowApp.wsUrl);
      slowStats.calls = 0;
      slowStats.max = 0;
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
