import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { describe, expect, it } from 'vitest';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { appForAllTests, appForEachTest, expectAlive, leftovers } from '../../support/fixtures.js';
import { HandlersGateway, SecondGateway } from '../../support/handlers-gateways.js';
import { eventIs } from '../../support/ws-client.js';

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('application handlers', () => {
    const { connect } = appForAllTests({}, { providers: [HandlersGateway, SecondGateway] });

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
  });

  describe('regressions', () => {
    @WebSocketGateway()
    class OddGateway {
      @SubscribeMessage('cycle')
      cycle() {
        const value: Record<string, unknown> = {};
        value.self = value;
        return value;
      }

      @SubscribeMessage('bigint')
      bigint(@MessageBody() data: unknown) {
        return { data, big: 10n };
      }
    }

    describe('results JSON cannot carry', () => {
      const fixture = appForEachTest({}, { providers: [OddGateway] });

      it('answers a cyclic result with INTERNAL_ERROR and keeps serving', async () => {
        const client = await fixture.connect();
        const reply = await client.request('cycle');
        expect(reply.error).toEqual({ code: 'INTERNAL_ERROR', message: 'Internal server error' });
        client.send({ event: 'bigint', data: 1 });
        expect((await client.next(eventIs('rt:error'))).data).toEqual({
          code: 'INTERNAL_ERROR',
          message: 'Internal server error',
          event: 'bigint',
        });
        await expectAlive(client);
      });
    });
  });
});
