import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../lib/core/frame.js';
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
      const record = await engine.addMember('lobby', member('c1', 'u1', 5));
      expect(record).toEqual({ name: 'lobby', created: 5, persistent: false, size: 1 });
      expect((await engine.addMember('lobby', member('c2'))).size).toBe(2);
      expect((await engine.addMember('lobby', member('c2'))).size).toBe(2);
      expect((await engine.getMembers('lobby')).map((m) => m.connectionId)).toEqual(['c1', 'c2']);
      expect(await engine.removeMember('lobby', 'c1')).toBe(true);
      expect(await engine.removeMember('lobby', 'c1')).toBe(false);
      expect(await engine.removeMember('lobby', 'c2')).toBe(true);
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
  });
}
