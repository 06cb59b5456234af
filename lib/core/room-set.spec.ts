import { describe, expect, it } from 'vitest';
import { RoomSet } from './room-set.js';

describe('RoomSet', () => {
  it('reads as a Set of its rooms, from none to several and back', () => {
    const rooms = new RoomSet();
    expect([rooms.size, [...rooms], rooms.has('a')]).toEqual([0, [], false]);
    rooms.add('a').add('a');
    expect([rooms.size, [...rooms], rooms.has('a'), rooms.has('b')]).toEqual([
      1,
      ['a'],
      true,
      false,
    ]);
    rooms.add('b').add('c');
    expect([...rooms]).toEqual(['a', 'b', 'c']);
    expect(rooms.delete('b')).toBe(true);
    expect(rooms.delete('b')).toBe(false);
    expect([...rooms.keys()]).toEqual(['a', 'c']);
    expect([...rooms.entries()]).toEqual([
      ['a', 'a'],
      ['c', 'c'],
    ]);
    const seen: string[] = [];
    rooms.forEach((room, key, set) => {
      expect(set).toBe(rooms);
      seen.push(`${room}=${key}`);
    });
    expect(seen).toEqual(['a=a', 'c=c']);
    rooms.delete('a');
    rooms.delete('c');
    expect(rooms.size).toBe(0);
  });

  it('deletes its one room only by name', () => {
    const rooms = new RoomSet();
    rooms.add('a');
    expect(rooms.delete('b')).toBe(false);
    expect(rooms.delete('a')).toBe(true);
    expect([...rooms]).toEqual([]);
  });
});
