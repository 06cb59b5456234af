import type { EnginePublication } from '../engines/broker.interface.js';
import type { RealtimeEngine } from '../engines/realtime-engine.interface.js';
import type { RoomMember } from '../engines/room-store.interface.js';
import { encodeFrame } from '../protocol/outbound-frame.js';
import type { ConformanceTestApi } from './conformance-test-api.js';

const member = (connectionId: string, userId?: string, joinedAt = 1_000): RoomMember => ({
  connectionId,
  userId,
  nodeId: 'n1',
  joinedAt,
});

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

const entry = (userId: string, connectionId: string, expiresAt = 10_000) => ({
  userId,
  connectionId,
  nodeId: 'n1',
  expiresAt,
});

const body = (n: number) => Buffer.from(`{"event":"m","data":${n},"room":"r"`);
const keep = { maxCount: 3, maxAge: 1_000 };
const none = { maxCount: 0, maxAge: 1_000 };

const offsets = (read: { messages: readonly { offset: number }[] }) =>
  read.messages.map((m) => m.offset);

/** The node id the suite starts each engine with. */
const NODE = 'suite-n1';

/**
 * The one suite every engine passes, single-node view: what the contracts in
 * lib/engines (broker, room store, presence store, node controller) promise. Run it
 * against an engine of your own; `create` makes a fresh, unstarted engine for each
 * test (with state of its own: a fresh key prefix, a fresh store), and the suite
 * starts and closes it. Multi-node engines add a cross-node suite of their own.
 *
 * @example
 * ```ts
 * import { afterEach, beforeEach, describe, expect, it } from 'vitest';
 * import { describeEngineConformance } from 'nest-realtime/testing';
 *
 * describeEngineConformance('my engine', async () => new MyEngine(), {
 *   describe, it, expect, beforeEach, afterEach,
 * });
 * ```
 */
export function describeEngineConformance(
  name: string,
  create: () => Promise<RealtimeEngine>,
  { describe, it, expect, beforeEach, afterEach }: ConformanceTestApi,
): void {
  describe(`${name} engine conformance`, () => {
    let engine: RealtimeEngine;
    let delivered: EnginePublication[];
    let orders: string[];

    beforeEach(async () => {
      delivered = [];
      orders = [];
      engine = await create();
      await engine.start(NODE, {
        deliver: (publication) => delivered.push(publication),
        control: (order) => orders.push(order.toString()),
      });
      await engine.broker.subscribe('*');
    });
    afterEach(() => engine.close());

    it('delivers a publication to a subscribed channel once, with its bytes and exceptions intact', async () => {
      await engine.broker.subscribe('r:a');
      await engine.broker.subscribe('r:b');
      const { bytes: frame } = encodeFrame({ event: 'x', data: 1 });
      await engine.broker.publish({ channels: ['r:a', 'r:b'], frame, except: ['c1'] });
      await until(() => delivered.length > 0);
      expect(delivered).toHaveLength(1);
      expect(Buffer.from(delivered[0]!.frame).toString()).toBe('{"event":"x","data":1}');
      expect(delivered[0]!.channels).toEqual(['r:a', 'r:b']);
      expect(delivered[0]!.except).toEqual(['c1']);
    });

    it('keeps the order of publications', async () => {
      await engine.broker.subscribe('r:a');
      for (let i = 0; i < 50; i++) {
        await engine.broker.publish({
          channels: ['r:a'],
          frame: encodeFrame({ event: 'n', data: i }).bytes,
          except: [],
        });
      }
      await until(() => delivered.length >= 50);
      expect(delivered.map((p) => JSON.parse(p.frame.toString()).data)).toEqual([
        ...Array(50).keys(),
      ]);
    });

    it('creates a room on the first member and drops it with the last', async () => {
      const added = await engine.rooms.addMember('lobby', member('c1', 'u1', 5));
      expect(added).toEqual({
        room: { name: 'lobby', created: 5, persistent: false, size: 1 },
        firstOfUser: true,
      });
      expect((await engine.rooms.addMember('lobby', member('c2'))).room.size).toBe(2);
      expect((await engine.rooms.addMember('lobby', member('c2'))).room.size).toBe(2);
      expect((await engine.rooms.members('lobby')).map((m) => m.connectionId)).toEqual([
        'c1',
        'c2',
      ]);
      expect(await engine.rooms.removeMember('lobby', 'c1')).toEqual({
        removed: true,
        lastOfUser: true,
      });
      expect(await engine.rooms.removeMember('lobby', 'c1')).toEqual({
        removed: false,
        lastOfUser: false,
      });
      expect(await engine.rooms.removeMember('lobby', 'c2')).toEqual({
        removed: true,
        lastOfUser: false,
      });
      expect(await engine.rooms.get('lobby')).toBeUndefined();
      expect(await engine.rooms.members('lobby')).toEqual([]);
    });

    it('keeps a created room when empty, and keeps its creation time', async () => {
      expect(await engine.rooms.create('hall', 10)).toEqual({
        name: 'hall',
        created: 10,
        persistent: true,
        size: 0,
      });
      await engine.rooms.addMember('hall', member('c1'));
      await engine.rooms.removeMember('hall', 'c1');
      expect(await engine.rooms.get('hall')).toEqual({
        name: 'hall',
        created: 10,
        persistent: true,
        size: 0,
      });
      expect((await engine.rooms.create('hall', 99)).created).toBe(10);
    });

    it('makes an existing room persistent', async () => {
      await engine.rooms.addMember('r', member('c1', undefined, 7));
      expect(await engine.rooms.create('r', 50)).toEqual({
        name: 'r',
        created: 7,
        persistent: true,
        size: 1,
      });
      await engine.rooms.removeMember('r', 'c1');
      expect(await engine.rooms.get('r')).toBeDefined();
    });

    it('deletes a room with its members', async () => {
      await engine.rooms.addMember('r', member('c1'));
      expect(await engine.rooms.delete('r')).toBe(true);
      expect(await engine.rooms.delete('r')).toBe(false);
      expect(await engine.rooms.get('r')).toBeUndefined();
      expect(await engine.rooms.members('r')).toEqual([]);
    });

    it('keeps member fields', async () => {
      await engine.rooms.addMember('r', member('c1', 'u1', 3));
      expect(await engine.rooms.members('r')).toEqual([
        { connectionId: 'c1', userId: 'u1', nodeId: 'n1', joinedAt: 3 },
      ]);
    });

    it('tracks the rooms of each user, and the first and last of their members', async () => {
      expect((await engine.rooms.addMember('a', member('c1', 'u1'))).firstOfUser).toBe(true);
      expect((await engine.rooms.addMember('a', member('c2', 'u1'))).firstOfUser).toBe(false);
      expect((await engine.rooms.addMember('b', member('c1', 'u1'))).firstOfUser).toBe(true);
      expect((await engine.rooms.addMember('b', member('c3'))).firstOfUser).toBe(false);
      expect((await engine.rooms.roomsOf('u1')).toSorted()).toEqual(['a', 'b']);
      expect((await engine.rooms.removeMember('a', 'c1')).lastOfUser).toBe(false);
      expect((await engine.rooms.removeMember('a', 'c2')).lastOfUser).toBe(true);
      expect(await engine.rooms.roomsOf('u1')).toEqual(['b']);
      await engine.rooms.delete('b');
      expect(await engine.rooms.roomsOf('u1')).toEqual([]);
    });

    it('brings a user online with their first connection, as online', async () => {
      const first = await engine.presence.add(entry('u1', 'c1'), 100);
      expect(first).toEqual({
        record: { userId: 'u1', status: 'online', meta: null, since: 100, connections: 1 },
        cameOnline: true,
      });
      const second = await engine.presence.add(entry('u1', 'c2'), 200);
      expect(second.cameOnline).toBe(false);
      expect(second.record.connections).toBe(2);
      expect(await engine.presence.get(['u1', 'u2'])).toEqual([second.record, undefined]);
    });

    it('sets a status for a present user only', async () => {
      expect(await engine.presence.setStatus('u1', 'busy', null, 5)).toBeUndefined();
      await engine.presence.add(entry('u1', 'c1'), 100);
      const changed = await engine.presence.setStatus('u1', 'busy', { activity: 'call' }, 150);
      expect(changed?.previous).toMatchObject({ status: 'online', since: 100 });
      expect(changed?.record).toEqual({
        userId: 'u1',
        status: 'busy',
        meta: { activity: 'call' },
        since: 150,
        connections: 1,
      });
    });

    it('keeps a user present for offlineDelay after the last connection, then expires them once', async () => {
      await engine.presence.add(entry('u1', 'c1'), 100);
      await engine.presence.setStatus('u1', 'away', null, 110);
      await engine.presence.remove('u1', 'c1', 200);
      expect(await engine.presence.expire(250, 100)).toEqual([]);
      expect((await engine.presence.get(['u1']))[0]).toMatchObject({
        status: 'away',
        connections: 0,
      });
      const gone = await engine.presence.expire(300, 100);
      expect(gone).toEqual([
        { userId: 'u1', status: 'away', meta: null, since: 110, connections: 0 },
      ]);
      expect(await engine.presence.expire(400, 100)).toEqual([]);
      expect(await engine.presence.get(['u1'])).toEqual([undefined]);
    });

    it('keeps the record and status of a user who comes back within offlineDelay', async () => {
      await engine.presence.add(entry('u1', 'c1'), 100);
      await engine.presence.setStatus('u1', 'busy', null, 110);
      await engine.presence.remove('u1', 'c1', 200);
      const back = await engine.presence.add(entry('u1', 'c2'), 250);
      expect(back.cameOnline).toBe(false);
      expect(back.record.status).toBe('busy');
      expect(await engine.presence.expire(10_000 - 1, 100)).toEqual([]);
    });

    it('expires connections that are not refreshed, and keeps refreshed ones', async () => {
      await engine.presence.add(entry('u1', 'c1', 1_000), 100);
      await engine.presence.add(entry('u2', 'c2', 1_000), 100);
      await engine.presence.refresh([entry('u2', 'c2', 5_000), entry('u3', 'nope', 5_000)]);
      // u1's connection expires at 1000; with offlineDelay 0 the user goes at once.
      const gone = await engine.presence.expire(1_000, 0);
      expect(gone.map((r) => r.userId)).toEqual(['u1']);
      expect((await engine.presence.get(['u2']))[0]?.connections).toBe(1);
      expect(await engine.presence.get(['u3'])).toEqual([undefined]);
    });

    it('numbers room messages from 1 in one epoch, closes their frames and publishes them', async () => {
      await engine.broker.subscribe('r:r');
      const first = await engine.broker.publishToRoom({
        room: 'r',
        channel: 'r:r',
        body: body(1),
        except: ['c9'],
        retention: keep,
        now: 100,
      });
      const second = await engine.broker.publishToRoom({
        room: 'r',
        channel: 'r:r',
        body: body(2),
        except: [],
        retention: keep,
        now: 101,
      });
      expect(first.offset).toBe(1);
      expect(second).toEqual({ epoch: first.epoch, offset: 2 });
      await until(() => delivered.length >= 2);
      expect(delivered.map((p) => JSON.parse(p.frame.toString()))).toEqual([
        { event: 'm', data: 1, room: 'r', offset: 1, epoch: first.epoch },
        { event: 'm', data: 2, room: 'r', offset: 2, epoch: first.epoch },
      ]);
      expect(delivered[0]).toMatchObject({
        channels: ['r:r'],
        except: ['c9'],
        position: { room: 'r', offset: 1 },
      });
      const other = await engine.broker.publishToRoom({
        room: 'other',
        channel: 'r:other',
        body: body(1),
        except: [],
        retention: keep,
        now: 102,
      });
      expect(other.offset).toBe(1);
    });

    it('replays what was missed, and says when it cannot', async () => {
      const { epoch } = await engine.broker.publishToRoom({
        room: 'r',
        channel: 'r:r',
        body: body(1),
        except: [],
        retention: keep,
        now: 100,
      });
      for (let n = 2; n <= 5; n++)
        await engine.broker.publishToRoom({
          room: 'r',
          channel: 'r:r',
          body: body(n),
          except: [],
          retention: keep,
          now: 100,
        });
      const recent = await engine.broker.readRoom('r', { epoch, offset: 3 }, 10, 100);
      expect(recent).toMatchObject({ epoch, offset: 5, recovered: true });
      expect(offsets(recent)).toEqual([4, 5]);
      expect(JSON.parse(recent.messages[0]!.frame.toString())).toMatchObject({
        data: 4,
        offset: 4,
      });
      // Only the last 3 are kept: from offset 1, message 2 is gone.
      expect(await engine.broker.readRoom('r', { epoch, offset: 1 }, 10, 100)).toMatchObject({
        recovered: false,
        messages: [],
      });
      expect(await engine.broker.readRoom('r', { epoch, offset: 3 }, 1, 100)).toMatchObject({
        recovered: false,
      });
      expect(
        await engine.broker.readRoom('r', { epoch: 'other', offset: 3 }, 10, 100),
      ).toMatchObject({
        recovered: false,
      });
      expect(await engine.broker.readRoom('r', { epoch, offset: 9 }, 10, 100)).toMatchObject({
        recovered: false,
      });
      expect(await engine.broker.readRoom('r', { epoch, offset: 5 }, 10, 100)).toMatchObject({
        recovered: true,
        messages: [],
      });
      expect(offsets(await engine.broker.readRoom('r', undefined, 2, 100))).toEqual([4, 5]);
      // Past maxAge nothing is kept.
      expect(await engine.broker.readRoom('r', { epoch, offset: 3 }, 10, 2_000)).toMatchObject({
        recovered: false,
      });
    });

    it('numbers without keeping when retention keeps none', async () => {
      const { epoch } = await engine.broker.publishToRoom({
        room: 'r',
        channel: 'r:r',
        body: body(1),
        except: [],
        retention: none,
        now: 100,
      });
      await engine.broker.publishToRoom({
        room: 'r',
        channel: 'r:r',
        body: body(2),
        except: [],
        retention: none,
        now: 100,
      });
      expect(await engine.broker.readRoom('r', { epoch, offset: 1 }, 10, 100)).toMatchObject({
        recovered: false,
      });
      expect(await engine.broker.readRoom('r', { epoch, offset: 2 }, 10, 100)).toMatchObject({
        recovered: true,
        offset: 2,
      });
    });

    it('hands over orders to this node and to all nodes, in order, and none to another node', async () => {
      await engine.controller.send(NODE, Buffer.from('one'));
      await engine.controller.send('elsewhere', Buffer.from('not mine'));
      await engine.controller.send(undefined, Buffer.from('all'));
      await engine.controller.send(NODE, Buffer.from('two'));
      await until(() => orders.length >= 3);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(orders).toEqual(['one', 'all', 'two']);
      expect(delivered).toEqual([]);
    });

    it('keeps orders apart from the broker: a channel named like a node gets none', async () => {
      await engine.broker.subscribe(`n:${NODE}`);
      await engine.controller.send(NODE, Buffer.from('order'));
      await until(() => orders.length > 0);
      expect(orders).toEqual(['order']);
      expect(delivered).toEqual([]);
    });
  });
}
