import { afterEach, describe, expect, it, vi } from 'vitest';
import { RoomPresenceBatcher, type MemberChange } from './room-presence-batcher.js';

const collect = () => {
  const flushed: Record<string, Record<string, MemberChange>>[] = [];
  const batcher = new RoomPresenceBatcher(100, async (changes) => {
    flushed.push(
      Object.fromEntries([...changes].map(([room, users]) => [room, Object.fromEntries(users)])),
    );
  });
  return { batcher, flushed };
};

describe('RoomPresenceBatcher', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands over one batch per interval, per room', () => {
    vi.useFakeTimers();
    const { batcher, flushed } = collect();
    for (let i = 0; i < 1_000; i++) batcher.record('lobby', `u${i}`, 'joined');
    batcher.record('other', 'x', 'left');
    expect(flushed).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(flushed).toHaveLength(1);
    expect(Object.keys(flushed[0]!.lobby!)).toHaveLength(1_000);
    expect(flushed[0]!.other).toEqual({ x: 'left' });
    vi.advanceTimersByTime(1_000);
    expect(flushed).toHaveLength(1);
  });

  it.each([
    [['joined', 'left'], undefined],
    [['joined', 'changed'], 'joined'],
    [['left', 'joined'], 'changed'],
    [['changed', 'left'], 'left'],
    [['changed', 'changed'], 'changed'],
    [['left', 'left'], 'left'],
    [['joined', 'left', 'joined'], 'joined'],
  ] as [MemberChange[], MemberChange | undefined][])('combines %j into %s', (changes, expected) => {
    vi.useFakeTimers();
    const { batcher, flushed } = collect();
    for (const change of changes) batcher.record('r', 'u', change);
    batcher.record('r', 'other', 'joined');
    vi.advanceTimersByTime(100);
    expect(flushed[0]!.r!.u).toBe(expected);
  });

  it('hands over the next batch only once the one before is out, an interval later', async () => {
    vi.useFakeTimers();
    const batches: string[][] = [];
    const releases: (() => void)[] = [];
    const release = () => releases.shift()!();
    const batcher = new RoomPresenceBatcher(100, async (changes) => {
      batches.push([...changes.get('r')!.keys()]);
      await new Promise<void>((resolve) => releases.push(resolve));
    });
    batcher.record('r', 'a', 'joined');
    await vi.advanceTimersByTimeAsync(100);
    batcher.record('r', 'b', 'joined');
    await vi.advanceTimersByTimeAsync(500); // the first batch is still going out
    batcher.record('r', 'c', 'joined');
    expect(batches).toEqual([['a']]);
    release();
    await vi.advanceTimersByTimeAsync(99);
    expect(batches).toEqual([['a']]);
    await vi.advanceTimersByTimeAsync(1);
    expect(batches).toEqual([['a'], ['b', 'c']]);
    release();
  });

  it('says nothing when every change cancelled out, and nothing after stop', () => {
    vi.useFakeTimers();
    const { batcher, flushed } = collect();
    batcher.record('r', 'u', 'joined');
    batcher.record('r', 'u', 'left');
    vi.advanceTimersByTime(100);
    expect(flushed).toEqual([]);
    batcher.record('r', 'u', 'joined');
    batcher.stop();
    vi.advanceTimersByTime(100);
    expect(flushed).toEqual([]);
  });
});
