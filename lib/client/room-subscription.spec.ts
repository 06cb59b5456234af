import { describe, expect, it } from 'vitest';
import { RoomSubscription } from './room-subscription.js';

const owner = { leaveRoom: async () => true };
const info = (epoch: string, offset: number, more: object = {}) => ({
  name: 'r',
  size: 1,
  created: 1,
  persistent: false,
  epoch,
  offset,
  ...more,
});

describe('RoomSubscription', () => {
  it('accepts each offset of an epoch once, in any later epoch anew', () => {
    const sub = new RoomSubscription('r', { recover: true }, owner);
    sub.joinedWith(info('E', 3), false);
    const at = (epoch: string, offset: number) =>
      sub.accept({ event: 'm', room: 'r', epoch, offset });
    expect([at('E', 3), at('E', 4), at('E', 4), at('E', 2), at('E', 6)]).toEqual([
      false,
      true,
      false,
      false,
      true,
    ]);
    expect(sub.position).toEqual({ epoch: 'E', offset: 6 });
    expect(at('F', 1)).toBe(true);
    expect(sub.position).toEqual({ epoch: 'F', offset: 1 });
    expect(sub.accept({ event: 'm', room: 'r' })).toBe(true); // no place in a stream: not a duplicate
  });

  it('asks to recover from its position only with recover, and latest only the first time', () => {
    const plain = new RoomSubscription('r', { latest: 5, presence: true }, owner);
    expect(plain.joinData()).toEqual({ room: 'r', presence: true, latest: 5 });
    plain.joinedWith(info('E', 2), false);
    expect(plain.joinData()).toEqual({ room: 'r', presence: true });
    const recovering = new RoomSubscription('r', { recover: true, latest: 5 }, owner);
    expect(recovering.joinData()).toEqual({ room: 'r', latest: 5 });
    recovering.joinedWith(info('E', 2), false);
    expect(recovering.joinData()).toEqual({ room: 'r', since: { epoch: 'E', offset: 2 } });
  });

  it('tells resync listeners when a re-join could not recover, and keeps members', () => {
    const sub = new RoomSubscription('r', { recover: true, presence: true }, owner);
    const resyncs: unknown[] = [];
    const sizes: number[] = [];
    sub.onResync((i) => resyncs.push(i.epoch));
    sub.onMembers((members) => sizes.push(members.size));
    const alice = { userId: 'a', status: 'online' as const, meta: null, since: 1 };
    sub.joinedWith(info('E', 0, { members: [alice] }), false);
    sub.applyDiff({ joined: [{ ...alice, userId: 'b' }], left: ['a'], changed: [] });
    expect([...sub.members.keys()]).toEqual(['b']);
    sub.joinedWith(info('E', 0, { recovered: true, members: [alice] }), true);
    sub.joinedWith(info('F', 0, { recovered: false, members: [] }), true);
    expect(resyncs).toEqual(['F']);
    expect(sizes).toEqual([1, 1, 1, 0]);
  });

  it('tells resync listeners once when a live message comes in another epoch', () => {
    const sub = new RoomSubscription('r', { recover: true }, owner);
    const resyncs: unknown[] = [];
    sub.onResync((i) => resyncs.push([i.epoch, i.offset, i.recovered]));
    sub.joinedWith(info('E', 3), false);
    expect(sub.accept({ event: 'm', room: 'r', epoch: 'F', offset: 1 })).toBe(true);
    sub.joinedWith(info('F', 1, { recovered: false }), true); // the same news: not told twice
    expect(resyncs).toEqual([['F', 0, false]]);
    const quiet = new RoomSubscription('r', {}, owner); // without recover: nobody asked
    quiet.onResync((i) => resyncs.push(i));
    quiet.joinedWith(info('E', 3), false);
    quiet.accept({ event: 'm', room: 'r', epoch: 'F', offset: 1 });
    expect(resyncs).toHaveLength(1);
  });

  it('ends once, with the error of a refused re-join', () => {
    const sub = new RoomSubscription('r', {}, owner);
    const ends: unknown[] = [];
    sub.onEnd((error) => ends.push(error));
    sub.end();
    sub.end();
    expect(ends).toEqual([undefined]);
    expect(sub.joined).toBe(false);
  });
});
