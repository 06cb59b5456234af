import { beforeEach, describe, expect, it } from 'vitest';
import { RealtimeError, type RealtimeHub } from '../../../lib/index.js';
import { join, until, userFromQuery } from '../../support/fixtures.js';
import { ENGINES, engineFixture } from '../../support/engines.js';
import { inRoom, joinReply } from '../../support/room-frames.js';
import { eventIs, type TestClient } from '../../support/ws-client.js';

// -- app ------------------------------------------------------------------------

// -- tests ----------------------------------------------------------------------

describe.each(ENGINES)('on $name', (engine) => {
  const rt = engineFixture(engine, { authenticate: userFromQuery });
  const { connect } = rt;
  let hub: RealtimeHub;

  beforeEach(() => {
    hub = rt.hub;
  });

  describe('rooms: rt:join and rt:leave', () => {
    it('rt:join replies with name, size, created and persistent=false', async () => {
      const a = await connect('u1');
      const b = await connect('u2');
      const before = Date.now();
      const first = await join(a, 'lobby');
      const after = Date.now();
      expect(first).toStrictEqual(
        joinReply({ name: 'lobby', size: 1, created: expect.any(Number), persistent: false }),
      );
      expect(first.created).toBeGreaterThanOrEqual(before);
      expect(first.created).toBeLessThanOrEqual(after);
      expect(await join(b, 'lobby')).toStrictEqual(
        joinReply({ name: 'lobby', size: 2, created: first.created, persistent: false }),
      );
    });

    it('joining a room twice is harmless: the size does not change', async () => {
      const a = await connect('u1');
      expect((await join(a, 'lobby')).size).toBe(1);
      expect((await join(a, 'lobby')).size).toBe(1);
      expect(await hub.roomMembers('lobby')).toHaveLength(1);
      expect(hub.connectionRooms(a.connectionId)).toStrictEqual(['lobby']);
      expect((await hub.roomInfo('lobby'))?.size).toBe(1);
    });

    it('rt:leave replies {room, left} with left=false when not a member', async () => {
      const a = await connect('u1');
      await join(a, 'lobby');
      const left = await a.request('rt:leave', { room: 'lobby' });
      expect(left.error).toBeUndefined();
      expect(left.data).toStrictEqual({ room: 'lobby', left: true });
      expect((await a.request('rt:leave', { room: 'lobby' })).data).toStrictEqual({
        room: 'lobby',
        left: false,
      });
      expect((await a.request('rt:leave', { room: 'never' })).data).toStrictEqual({
        room: 'never',
        left: false,
      });
      expect(hub.connectionRooms(a.connectionId)).toStrictEqual([]);
    });

    it('a room made by a join disappears with its last member', async () => {
      const a = await connect('u1');
      const b = await connect('u2');
      await join(a, 'temp');
      await join(b, 'temp');
      await a.request('rt:leave', { room: 'temp' });
      expect((await hub.roomInfo('temp'))?.size).toBe(1);
      await b.request('rt:leave', { room: 'temp' });
      expect(await hub.roomInfo('temp')).toBeUndefined();
      expect(await hub.roomMembers('temp')).toStrictEqual([]);
    });

    it('hub.createRoom makes a persistent room that stays when empty', async () => {
      const created = await hub.createRoom('stay');
      expect(created).toStrictEqual({
        name: 'stay',
        size: 0,
        created: expect.any(Number),
        persistent: true,
      });
      const a = await connect('u1');
      expect(await join(a, 'stay')).toStrictEqual(joinReply({ ...created, size: 1 }));
      await a.request('rt:leave', { room: 'stay' });
      expect(await hub.roomInfo('stay')).toStrictEqual(created);
    });

    it('hub.deleteRoom removes the local members and forgets the room', async () => {
      const a = await connect('u1');
      const b = await connect('u2');
      const c = await connect('u3');
      await join(a, 'doomed');
      await join(b, 'doomed');
      await join(b, 'other');
      await join(c, 'other');
      expect(await hub.deleteRoom('doomed')).toBe(true);
      expect(await hub.roomInfo('doomed')).toBeUndefined();
      expect(hub.connectionRooms(a.connectionId)).toStrictEqual([]);
      expect(hub.connectionRooms(b.connectionId)).toStrictEqual(['other']);
      expect((await hub.roomInfo('other'))?.size).toBe(2);
      const room = await a.request('rt:room', { room: 'doomed' });
      expect(room.error?.code).toBe('NOT_IN_ROOM');
      await rt.publish.to('doomed').emit('late', 1);
      expect(await a.collect(eventIs('late'))).toStrictEqual([]);
      expect(await b.collect(eventIs('late'))).toStrictEqual([]);
      expect(await hub.deleteRoom('doomed')).toBe(false);
    });
  });

  describe('rooms: rt:room', () => {
    it('describes the room: size counts every member, users the distinct user ids', async () => {
      const a = await connect('u1');
      const a2 = await connect('u1');
      const b = await connect('u2');
      const anon = await connect();
      for (const client of [a, a2, b, anon]) await join(client, 'lobby');
      const created = (await hub.roomInfo('lobby'))!.created;
      const reply = await anon.request('rt:room', { room: 'lobby' });
      expect(reply.error).toBeUndefined();
      expect({ ...reply.data, users: [...reply.data.users].toSorted() }).toStrictEqual({
        name: 'lobby',
        created,
        persistent: false,
        size: 4,
        users: ['u1', 'u2'],
      });
    });

    it('answers NOT_IN_ROOM to a connection that is not a member', async () => {
      const a = await connect('u1');
      const outsider = await connect('u2');
      await join(a, 'lobby');
      const reply = await outsider.request('rt:room', { room: 'lobby' });
      expect(reply.data).toBeUndefined();
      expect(reply.error).toStrictEqual({
        code: 'NOT_IN_ROOM',
        message: 'not a member of room "lobby"',
      });
      const missing = await outsider.request('rt:room', { room: 'nowhere' });
      expect(missing.error?.code).toBe('NOT_IN_ROOM');
    });
  });

  describe('rooms: rt:publish', () => {
    it('reaches the other members with {event, data, room}, not the sender nor outsiders', async () => {
      const a = await connect('u1');
      const b = await connect('u2');
      const c = await connect();
      const outsider = await connect('u3');
      for (const client of [a, b, c]) await join(client, 'lobby');
      await join(outsider, 'elsewhere');
      const reply = await a.request('rt:publish', {
        room: 'lobby',
        event: 'chat',
        data: { text: 'hi' },
      });
      const expected = inRoom({ event: 'chat', data: { text: 'hi' }, room: 'lobby' }, 1);
      // The reply says where the message went in the room's stream.
      expect(reply).toStrictEqual({
        event: 'rt:reply',
        id: reply.id,
        data: { room: 'lobby', epoch: expected.epoch, offset: 1 },
      });
      expect(await b.next(eventIs('chat'))).toStrictEqual(expected);
      expect(await c.next(eventIs('chat'))).toStrictEqual(expected);
      expect(await a.collect(eventIs('chat'))).toStrictEqual([]);
      expect(await outsider.collect(eventIs('chat'))).toStrictEqual([]);
      expect(await b.collect(eventIs('chat'))).toStrictEqual([]);
    });

    it('reaches the sender too with echo: true', async () => {
      const a = await connect('u1');
      const b = await connect('u2');
      await join(a, 'lobby');
      await join(b, 'lobby');
      const reply = await a.request('rt:publish', {
        room: 'lobby',
        event: 'chat',
        data: [1, 2],
        echo: true,
      });
      const expected = inRoom({ event: 'chat', data: [1, 2], room: 'lobby' }, 1);
      expect(reply.data).toEqual({ room: 'lobby', epoch: expected.epoch, offset: 1 });
      expect(await a.next(eventIs('chat'))).toStrictEqual(expected);
      expect(await b.next(eventIs('chat'))).toStrictEqual(expected);
      expect(await a.collect(eventIs('chat'))).toStrictEqual([]);
    });

    it('answers NOT_IN_ROOM to a non-member, and nobody receives anything', async () => {
      const a = await connect('u1');
      const outsider = await connect('u2');
      await join(a, 'lobby');
      const reply = await outsider.request('rt:publish', {
        room: 'lobby',
        event: 'chat',
        data: 'x',
      });
      expect(reply.data).toBeUndefined();
      expect(reply.error?.code).toBe('NOT_IN_ROOM');
      expect(await a.collect(eventIs('chat'))).toStrictEqual([]);
      expect(await outsider.collect(eventIs('chat'))).toStrictEqual([]);
    });
  });

  describe('rooms: hub API', () => {
    it('roomMembers, roomUsers, connectionRooms and the connection registry', async () => {
      const a = await connect('u1');
      const a2 = await connect('u1');
      const b = await connect('u2');
      const anon = await connect();
      for (const client of [a, b, anon, a2]) await join(client, 'lobby');
      await join(a, 'side');

      // toEqual: the Redis engine leaves out the userId of an anonymous member, the memory
      // engine keeps it as undefined.
      expect(await hub.roomMembers('lobby')).toEqual(
        [
          [a, 'u1'],
          [b, 'u2'],
          [anon, undefined],
          [a2, 'u1'],
        ].map(([client, userId]) => ({
          connectionId: (client as TestClient).connectionId,
          userId,
          nodeId: hub.nodeId,
          joinedAt: expect.any(Number),
        })),
      );
      expect(await hub.roomMembers('nowhere')).toStrictEqual([]);
      expect((await hub.roomUsers('lobby')).toSorted()).toStrictEqual(['u1', 'u2']);
      expect(await hub.roomUsers('side')).toStrictEqual(['u1']);
      expect(await hub.roomUsers('nowhere')).toStrictEqual([]);

      expect(hub.connectionRooms(a.connectionId)).toStrictEqual(['lobby', 'side']);
      const connectionA = hub.connections.get(a.connectionId)!;
      expect(hub.connectionRooms(connectionA)).toStrictEqual(['lobby', 'side']);
      expect(hub.connectionRooms(anon.connectionId)).toStrictEqual(['lobby']);

      expect(a.connectionId.startsWith(`${hub.nodeId}.`)).toBe(true);
      expect(hub.connections.count()).toBe(4);
      expect(hub.connections.countByUser('u1')).toBe(2);
      expect(hub.connections.countByUser('u2')).toBe(1);
      expect(hub.connections.countByUser('nobody')).toBe(0);
      const u1 = hub.connections.listByUser('u1').map((connection) => connection.id);
      expect(u1.toSorted()).toStrictEqual([a.connectionId, a2.connectionId].toSorted());
      expect(hub.connections.listByUser('nobody')).toStrictEqual([]);
    });

    it('a connection that closes leaves all its rooms and the registry', async () => {
      const a = await connect('u1');
      const b = await connect('u2');
      await join(a, 'r1');
      await join(a, 'r2');
      await join(b, 'r1');
      const id = a.connectionId;
      await a.close();
      await until(async () => (await hub.roomMembers('r1')).length === 1);

      expect((await hub.roomMembers('r1')).map((m) => m.connectionId)).toStrictEqual([
        b.connectionId,
      ]);
      expect((await hub.roomInfo('r1'))?.size).toBe(1);
      expect(await hub.roomInfo('r2')).toBeUndefined();
      expect(hub.connections.get(id)).toBeUndefined();
      expect(hub.connections.count()).toBe(1);
      expect(hub.connections.countByUser('u1')).toBe(0);
      expect(hub.connections.listByUser('u1')).toStrictEqual([]);
      expect(() => hub.connectionRooms(id)).toThrow(RealtimeError);
      const room = await b.request('rt:room', { room: 'r1' });
      expect(room.data).toMatchObject({ size: 1, users: ['u2'] });
    });
  });
});
