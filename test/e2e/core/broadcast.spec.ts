import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { beforeEach, describe, expect, it } from 'vitest';
import { CloseCode, RealtimeError, RealtimeHub, type WsConnection } from '../../../lib/index.js';
import { join, leftovers, until, userFromQuery } from '../../support/fixtures.js';
import { ENGINES, engineFixture } from '../../support/engines.js';
import { inRoom } from '../../support/room-frames.js';
import { eventIs, type Frame, type TestClient } from '../../support/ws-client.js';

@WebSocketGateway()
class RelayGateway {
  constructor(private readonly hub: RealtimeHub) {}

  @SubscribeMessage('relay')
  relay(
    @ConnectedSocket() client: WsConnection,
    @MessageBody() body: { room: string; text: string },
  ) {
    return this.hub.to(body.room).except(client).emit('relay', body);
  }
}

// -- helpers (local to this file) ----------------------------------------------

const isBatchPart = (frame: Frame): boolean => frame.event === 'x' || frame.event === 'y';

/**
 * The `event` frames each client got, receivers first, then others: it waits for
 * one at each receiver, then collects for a while longer at every client (so that a
 * duplicate, or a frame to someone who must get none, shows up). Consumes them all.
 */
async function deliveries(
  event: string,
  receivers: readonly TestClient[],
  others: readonly TestClient[] = [],
): Promise<Frame[][]> {
  const first = await Promise.all(
    receivers.map((client) => client.next(eventIs(event)).catch(() => undefined)),
  );
  const all = [...receivers, ...others];
  const late = await Promise.all(all.map((client) => client.collect(eventIs(event), 100)));
  return all.map((client, i) => {
    const got = late[i]!;
    for (const frame of got) client.frames.splice(client.frames.indexOf(frame), 1);
    const head = first[i];
    if (head) got.unshift(head);
    return got;
  });
}

/** The code of the RealtimeError `fn` throws synchronously, or what happened instead. */
function codeThrown(fn: () => unknown): string {
  try {
    const result = fn();
    if (result instanceof Promise) {
      result.catch(() => undefined);
      return 'returned a promise instead of throwing';
    }
    return 'nothing thrown';
  } catch (error) {
    return error instanceof RealtimeError ? error.code : `not a RealtimeError: ${String(error)}`;
  }
}

// -- tests ----------------------------------------------------------------------

describe.each(ENGINES)('on $name', (engine) => {
  const rt = engineFixture(engine, { authenticate: userFromQuery }, { providers: [RelayGateway] });
  const { connect } = rt;
  let hub: RealtimeHub;

  beforeEach(() => {
    hub = rt.hub;
  });

  describe('broadcast from server code', () => {
    it('hub.emit reaches every connection, without room', async () => {
      const a = await connect('u1');
      const b = await connect('u2');
      const anon = await connect();
      await join(a, 'lobby');
      await rt.publish.emit('news', { n: 1 });
      const frame = { event: 'news', data: { n: 1 } };
      expect(await deliveries('news', [a, b, anon])).toStrictEqual([[frame], [frame], [frame]]);
    });

    it('hub.to(room).emit reaches the members only, with room', async () => {
      const a = await connect('u1');
      const b = await connect();
      const outsider = await connect('u1');
      const elsewhere = await connect('u3');
      await join(a, 'lobby');
      await join(b, 'lobby');
      await join(elsewhere, 'other');
      await rt.publish.to('lobby').emit('news', 'x');
      const frame = inRoom({ event: 'news', data: 'x', room: 'lobby' }, 1);
      expect(await deliveries('news', [a, b], [outsider, elsewhere])).toStrictEqual([
        [frame],
        [frame],
        [],
        [],
      ]);
    });

    it('hub.to([r1, r2]).emit reaches each member once, without room', async () => {
      const both = await connect('u1');
      const only1 = await connect('u2');
      const only2 = await connect('u3');
      const outsider = await connect('u4');
      await join(both, 'r1');
      await join(both, 'r2');
      await join(only1, 'r1');
      await join(only2, 'r2');
      await join(outsider, 'r3');
      await rt.publish.to(['r1', 'r2']).emit('news', 7);
      const frame = { event: 'news', data: 7 };
      expect(await deliveries('news', [both, only1, only2], [outsider])).toStrictEqual([
        [frame],
        [frame],
        [frame],
        [],
      ]);
      // Chained to() is the same as an array.
      await rt.publish.to('r1').to('r2').emit('news', 8);
      const chained = { event: 'news', data: 8 };
      expect(await deliveries('news', [both, only1, only2], [outsider])).toStrictEqual([
        [chained],
        [chained],
        [chained],
        [],
      ]);
    });

    it("hub.toUser('u1') reaches all of u1's connections and nobody else", async () => {
      const tabs = [await connect('u1'), await connect('u1'), await connect('u1')];
      const other = await connect('u2');
      const anon = await connect();
      await join(tabs[0]!, 'lobby');
      await join(other, 'lobby');
      await rt.publish.toUser('u1').emit('notice', { unread: 3 });
      const frame = { event: 'notice', data: { unread: 3 } };
      expect(await deliveries('notice', tabs, [other, anon])).toStrictEqual([
        [frame],
        [frame],
        [frame],
        [],
        [],
      ]);
    });

    it('hub.except(connection).emit reaches everyone else', async () => {
      const a = await connect('u1');
      const a2 = await connect('u1');
      const b = await connect('u2');
      const anon = await connect();
      await hub.except(hub.connections.get(a.connectionId)!).emit('news', 1);
      const one = { event: 'news', data: 1 };
      expect(await deliveries('news', [a2, b, anon], [a])).toStrictEqual([[one], [one], [one], []]);
      await hub.except([a.connectionId, b.connectionId]).emit('news', 2);
      const two = { event: 'news', data: 2 };
      expect(await deliveries('news', [a2, anon], [a, b])).toStrictEqual([[two], [two], [], []]);
    });

    it('hub.to(room).except(connectionId).emit skips that member only', async () => {
      const a = await connect('u1');
      const b = await connect('u2');
      const c = await connect();
      const outsider = await connect('u4');
      for (const client of [a, b, c]) await join(client, 'lobby');
      await rt.publish.to('lobby').except(b.connectionId).emit('news', null);
      const frame = inRoom({ event: 'news', data: null, room: 'lobby' }, 1);
      expect(await deliveries('news', [a, c], [b, outsider])).toStrictEqual([
        [frame],
        [frame],
        [],
        [],
      ]);
    });

    it('a gateway handler emitting to(room).except(client) skips the sender', async () => {
      const a = await connect('u1');
      const b = await connect('u2');
      const c = await connect();
      const outsider = await connect('u4');
      for (const client of [a, b, c]) await join(client, 'lobby');
      const body = { room: 'lobby', text: 'hi' };
      const reply = await a.request('relay', body);
      // The handler returns what emit resolves with: the message's place in the room.
      expect(reply).toStrictEqual({
        event: 'rt:reply',
        id: reply.id,
        data: { epoch: expect.any(String), offset: 1 },
      });
      const frame = inRoom({ event: 'relay', data: body, room: 'lobby' }, 1);
      expect(await deliveries('relay', [b, c], [a, outsider])).toStrictEqual([
        [frame],
        [frame],
        [],
        [],
      ]);
    });

    it('emitBatch sends one rt:batch frame holding the ordered messages', async () => {
      const a = await connect('u1');
      const b = await connect('u2');
      const outsider = await connect('u3');
      await join(a, 'r1');
      await join(b, 'r2');
      const messages = [
        { event: 'x', data: 1 },
        { event: 'y', data: { z: true } },
        { event: 'x', data: 3 },
      ];

      await rt.publish.to('r1').emitBatch(messages);
      const toRoom = inRoom({ event: 'rt:batch', data: messages, room: 'r1' }, 1);
      expect(await deliveries('rt:batch', [a], [b, outsider])).toStrictEqual([[toRoom], [], []]);

      await rt.publish.to(['r1', 'r2']).emitBatch(messages);
      const toRooms = { event: 'rt:batch', data: messages };
      expect(await deliveries('rt:batch', [a, b], [outsider])).toStrictEqual([
        [toRooms],
        [toRooms],
        [],
      ]);

      await hub.emitBatch(messages);
      expect(await deliveries('rt:batch', [a, b, outsider])).toStrictEqual([
        [toRooms],
        [toRooms],
        [toRooms],
      ]);

      // The messages came only inside the batches, never as frames of their own.
      expect([a, b, outsider].map((client) => client.frames.filter(isBatchPart))).toStrictEqual([
        [],
        [],
        [],
      ]);
    });
  });

  describe('disconnect', () => {
    it('hub.disconnect(connectionId) closes that connection with 4500', async () => {
      const a = await connect('u1');
      const a2 = await connect('u1');
      const id = a.connectionId;
      hub.disconnect(id);
      expect(await a.closed).toBe(4500);
      await until(() => hub.connections.get(id) === undefined);
      expect(hub.connections.count()).toBe(1);
      expect(a2.closeCode).toBeUndefined();
      expect((await a2.request('rt:join', { room: 'still-here' })).data.size).toBe(1);
    });

    it("hub.disconnectUser closes all of a user's connections with 4500", async () => {
      const tabs = [await connect('u1'), await connect('u1'), await connect('u1')];
      const other = await connect('u2');
      const anon = await connect();
      hub.disconnectUser('u1');
      expect(await Promise.all(tabs.map((tab) => tab.closed))).toStrictEqual([4500, 4500, 4500]);
      await until(() => hub.connections.countByUser('u1') === 0);
      expect(hub.connections.count()).toBe(2);
      await rt.publish.emit('ping-all', 1);
      const frame = { event: 'ping-all', data: 1 };
      expect(await deliveries('ping-all', [other, anon])).toStrictEqual([[frame], [frame]]);
      expect(other.closeCode).toBeUndefined();
      expect(anon.closeCode).toBeUndefined();
    });
  });

  describe('bad arguments from server code', () => {
    it('throw a RealtimeError when addressing, and reject when emitting', async () => {
      expect(codeThrown(() => hub.to(''))).toBe('ROOM_NAME_INVALID');
      expect(codeThrown(() => hub.to('rt:x'))).toBe('ROOM_NAME_INVALID');
      expect(codeThrown(() => hub.to(['ok', '']))).toBe('ROOM_NAME_INVALID');
      expect(codeThrown(() => hub.toUser(''))).toBe('INVALID_DATA');
      expect(codeThrown(() => hub.toUser(['u1', '']))).toBe('INVALID_DATA');
      await expect(hub.emit('rt:reply')).rejects.toMatchObject({ code: 'INVALID_DATA' });
      await expect(hub.to('ok').emit('')).rejects.toMatchObject({ code: 'INVALID_DATA' });
      await expect(hub.emitBatch([{ event: 'rt:batch' }])).rejects.toMatchObject({
        code: 'INVALID_DATA',
      });
    });

    it('sends nothing to an empty list of rooms or users', async () => {
      const a = await connect('u1');
      await rt.publish.to([]).emit('nobody', 1);
      await rt.publish.toUser([]).emit('nobody', 2);
      await rt.publish.to([]).except(a.connectionId).emit('nobody', 3);
      expect(await a.collect(eventIs('nobody'))).toStrictEqual([]);
    });
  });

  describe('regressions', () => {
    it('cuts a long disconnect reason to what a close frame carries', async () => {
      const client = await rt.connect('u1');
      rt.hub.disconnect(client.connectionId, 'é'.repeat(500));
      expect(await client.closed).toBe(CloseCode.Disconnected);
      expect(Buffer.byteLength(client.closeReason)).toBeLessThanOrEqual(123);
      expect(client.closeReason).toMatch(/^é+$/);
    });

    it('hub.to([]) and hub.toUser([]) deliver to nobody', async () => {
      const client = await rt.connect('u1');
      await join(client, 'lobby');

      await rt.publish.to([]).emit('nobody', 1);
      await rt.publish.toUser([]).emit('nobody', 2);
      await rt.publish.to([]).emitBatch([{ event: 'nobody', data: 3 }]);
      await rt.publish.toUser([]).except('someone-else').emit('nobody', 4);
      expect(await leftovers(client)).toEqual([]);

      // The same client does get what is addressed to it.
      await rt.publish.to('lobby').emit('somebody', 5);
      await rt.publish.toUser('u1').emit('somebody', 6);
      // The empty targets numbered nothing: this is the room's first message.
      expect(await client.next(eventIs('somebody'))).toEqual(
        inRoom({ event: 'somebody', data: 5, room: 'lobby' }, 1),
      );
      expect(await client.next(eventIs('somebody'))).toEqual({ event: 'somebody', data: 6 });
      expect(await leftovers(client)).toEqual([]);
    });
  });
});
