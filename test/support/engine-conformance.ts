import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../lib/protocol/index.js';
import type {
  EnginePublication,
  RealtimeEngine,
  RoomMember,
} from '../../lib/engines/realtime-engine.interface.js';

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

/**
 * The one suite every engine passes, single-node view: what the contract in
 * lib/engines/realtime-engine.interface.ts promises. Multi-node engines add
 * their own cross-node suite on top.
 */
export function describeEngineConformance(
  name: string,
  create: () => Promise<RealtimeEngine>,
): void {
  describe(`${name} engine conformance`, () => {
    let engine: RealtimeEngine;
    let delivered: EnginePublication[];

    beforeEach(async () => {
      delivered = [];
      engine = await create();
      await engine.start({ deliver: (publication) => delivered.push(publication) });
      await engine.subscribe('*');
    });
    afterEach(() => engine.close());

    it('delivers a publication to a subscribed channel once, with its bytes and exceptions intact', async () => {
      await engine.subscribe('r:a');
      await engine.subscribe('r:b');
      const frame = encodeFrame({ event: 'x', data: 1 });
      await engine.publish({ channels: ['r:a', 'r:b'], frame, except: ['c1'] });
      await until(() => delivered.length > 0);
      expect(delivered).toHaveLength(1);
      expect(Buffer.from(delivered[0]!.frame).toString()).toBe('{"event":"x","data":1}');
      expect(delivered[0]!.channels).toEqual(['r:a', 'r:b']);
      expect(delivered[0]!.except).toEqual(['c1']);
    });

    it('keeps the order of publications', async () => {
      await engine.subscribe('r:a');
      for (let i = 0; i < 50; i++) {
        await engine.publish({
          channels: ['r:a'],
          frame: encodeFrame({ event: 'n', data: i }),
          except: [],
        });
      }
      await until(() => delivered.length >= 50);
      expect(delivered.map((p) => JSON.parse(p.frame.toString()).data)).toEqual([
        ...Array(50).keys(),
      ]);
    });

    it('creates a room on the first member and drops it with the last', async () => {
      const added = await engine.addMember('lobby', member('c1', 'u1', 5));
      expect(added).toEqual({
        room: { name: 'lobby', created: 5, persistent: false, size: 1 },
        firstOfUser: true,
      });
      expect((await engine.addMember('lobby', member('c2'))).room.size).toBe(2);
      expect((await engine.addMember('lobby', member('c2'))).room.size).toBe(2);
      expect((await engine.getMembers('lobby')).map((m) => m.connectionId)).toEqual(['c1', 'c2']);
      expect(await engine.removeMember('lobby', 'c1')).toEqual({ removed: true, lastOfUser: true });
      expect(await engine.removeMember('lobby', 'c1')).toEqual({
        removed: false,
        lastOfUser: false,
      });
      expect(await engine.removeMember('lobby', 'c2')).toEqual({
        removed: true,
        lastOfUser: false,
      });
      expect(await engine.getRoom('lobby')).toBeUndefined();
      expect(await engine.getMembers('lobby')).toEqual([]);
    });

    it('keeps a created room when empty, and keeps its creation time', async () => {
      expect(await engine.createRoom('hall', 10)).toEqual({
        name: 'hall',
        created: 10,
        persistent: true,
        size: 0,
      });
      await engine.addMember('hall', member('c1'));
      await engine.removeMember('hall', 'c1');
      expect(await engine.getRoom('hall')).toEqual({
        name: 'hall',
        created: 10,
        persistent: true,
        size: 0,
      });
      expect((await engine.createRoom('hall', 99)).created).toBe(10);
    });

    it('makes an existing room persistent', async () => {
      await engine.addMember('r', member('c1', undefined, 7));
      expect(await engine.createRoom('r', 50)).toEqual({
        name: 'r',
        created: 7,
        persistent: true,
        size: 1,
      });
      await engine.removeMember('r', 'c1');
      expect(await engine.getRoom('r')).toBeDefined();
    });

    it('deletes a room with its members', async () => {
      await engine.addMember('r', member('c1'));
      expect(await engine.deleteRoom('r')).toBe(true);
      expect(await engine.deleteRoom('r')).toBe(false);
      expect(await engine.getRoom('r')).toBeUndefined();
      expect(await engine.getMembers('r')).toEqual([]);
    });

    it('keeps member fields', async () => {
      await engine.addMember('r', member('c1', 'u1', 3));
      expect(await engine.getMembers('r')).toEqual([
        { connectionId: 'c1', userId: 'u1', nodeId: 'n1', joinedAt: 3 },
      ]);
    });

    it('tracks the rooms of each user, and the first and last of their members', async () => {
      expect((await engine.addMember('a', member('c1', 'u1'))).firstOfUser).toBe(true);
      expect((await engine.addMember('a', member('c2', 'u1'))).firstOfUser).toBe(false);
      expect((await engine.addMember('b', member('c1', 'u1'))).firstOfUser).toBe(true);
      expect((await engine.addMember('b', member('c3'))).firstOfUser).toBe(false);
      expect((await engine.getUserRooms('u1')).toSorted()).toEqual(['a', 'b']);
      expect((await engine.removeMember('a', 'c1')).lastOfUser).toBe(false);
      expect((await engine.removeMember('a', 'c2')).lastOfUser).toBe(true);
      expect(await engine.getUserRooms('u1')).toEqual(['b']);
      await engine.deleteRoom('b');
      expect(await engine.getUserRooms('u1')).toEqual([]);
    });

    it('brings a user online with their first connection, as online', async () => {
      const first = await engine.addPresence(entry('u1', 'c1'), 100);
      expect(first).toEqual({
        record: { userId: 'u1', status: 'online', meta: null, since: 100, connections: 1 },
        cameOnline: true,
      });
      const second = await engine.addPresence(entry('u1', 'c2'), 200);
      expect(second.cameOnline).toBe(false);
      expect(second.record.connections).toBe(2);
      expect(await engine.getPresence(['u1', 'u2'])).toEqual([second.record, undefined]);
    });

    it('sets a status for a present user only', async () => {
      expect(await engine.setPresenceStatus('u1', 'busy', null, 5)).toBeUndefined();
      await engine.addPresence(entry('u1', 'c1'), 100);
      const changed = await engine.setPresenceStatus('u1', 'busy', { activity: 'call' }, 150);
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
      await engine.addPresence(entry('u1', 'c1'), 100);
      await engine.setPresenceStatus('u1', 'away', null, 110);
      await engine.removePresence('u1', 'c1', 200);
      expect(await engine.expirePresence(250, 100)).toEqual([]);
      expect((await engine.getPresence(['u1']))[0]).toMatchObject({
        status: 'away',
        connections: 0,
      });
      const gone = await engine.expirePresence(300, 100);
      expect(gone).toEqual([
        { userId: 'u1', status: 'away', meta: null, since: 110, connections: 0 },
      ]);
      expect(await engine.expirePresence(400, 100)).toEqual([]);
      expect(await engine.getPresence(['u1'])).toEqual([undefined]);
    });

    it('keeps the record and status of a user who comes back within offlineDelay', async () => {
      await engine.addPresence(entry('u1', 'c1'), 100);
      await engine.setPresenceStatus('u1', 'busy', null, 110);
      await engine.removePresence('u1', 'c1', 200);
      const back = await engine.addPresence(entry('u1', 'c2'), 250);
      expect(back.cameOnline).toBe(false);
      expect(back.record.status).toBe('busy');
      expect(await engine.expirePresence(10_000 - 1, 100)).toEqual([]);
    });

    it('expires connections that are not refreshed, and keeps refreshed ones', async () => {
      await engine.addPresence(entry('u1', 'c1', 1_000), 100);
      await engine.addPresence(entry('u2', 'c2', 1_000), 100);
      await engine.refreshPresence([entry('u2', 'c2', 5_000), entry('u3', 'nope', 5_000)]);
      // u1's connection expires at 1000; with offlineDelay 0 the user goes at once.
      const gone = await engine.expirePresence(1_000, 0);
      expect(gone.map((r) => r.userId)).toEqual(['u1']);
      expect((await engine.getPresence(['u2']))[0]?.connections).toBe(1);
      expect(await engine.getPresence(['u3'])).toEqual([undefined]);
    });

    it('numbers room messages from 1 in one epoch, closes their frames and publishes them', async () => {
      await engine.subscribe('r:r');
      const first = await engine.publishToRoom('r', 'r:r', body(1), ['c9'], keep, 100);
      const second = await engine.publishToRoom('r', 'r:r', body(2), [], keep, 101);
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
      const other = await engine.publishToRoom('other', 'r:other', body(1), [], keep, 102);
      expect(other.offset).toBe(1);
    });

    it('replays what was missed, and says when it cannot', async () => {
      const { epoch } = await engine.publishToRoom('r', 'r:r', body(1), [], keep, 100);
      for (let n = 2; n <= 5; n++) await engine.publishToRoom('r', 'r:r', body(n), [], keep, 100);
      const recent = await engine.readRoom('r', { epoch, offset: 3 }, 10, 100);
      expect(recent).toMatchObject({ epoch, offset: 5, recovered: true });
      expect(offsets(recent)).toEqual([4, 5]);
      expect(JSON.parse(recent.messages[0]!.frame.toString())).toMatchObject({
        data: 4,
        offset: 4,
      });
      // Only the last 3 are kept: from offset 1, message 2 is gone.
      expect(await engine.readRoom('r', { epoch, offset: 1 }, 10, 100)).toMatchObject({
        recovered: false,
        messages: [],
      });
      expect(await engine.readRoom('r', { epoch, offset: 3 }, 1, 100)).toMatchObject({
        recovered: false,
      });
      expect(await engine.readRoom('r', { epoch: 'other', offset: 3 }, 10, 100)).toMatchObject({
        recovered: false,
      });
      expect(await engine.readRoom('r', { epoch, offset: 9 }, 10, 100)).toMatchObject({
        recovered: false,
      });
      expect(await engine.readRoom('r', { epoch, offset: 5 }, 10, 100)).toMatchObject({
        recovered: true,
        messages: [],
      });
      expect(offsets(await engine.readRoom('r', undefined, 2, 100))).toEqual([4, 5]);
      // Past maxAge nothing is kept.
      expect(await engine.readRoom('r', { epoch, offset: 3 }, 10, 2_000)).toMatchObject({
        recovered: false,
      });
    });

    it('numbers without keeping when retention keeps none', async () => {
      const { epoch } = await engine.publishToRoom('r', 'r:r', body(1), [], none, 100);
      await engine.publishToRoom('r', 'r:r', body(2), [], none, 100);
      expect(await engine.readRoom('r', { epoch, offset: 1 }, 10, 100)).toMatchObject({
        recovered: false,
      });
      expect(await engine.readRoom('r', { epoch, offset: 2 }, 10, 100)).toMatchObject({
        recovered: true,
        offset: 2,
      });
    });
  });
}
