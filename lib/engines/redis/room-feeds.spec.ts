import { describe, expect, it } from 'vitest';
import type { EnginePublication, RoomRead } from '../broker.interface.js';
import { RoomFeeds, type FeedSource } from './room-feeds.js';

const publication = (offset: number): EnginePublication => ({
  channels: ['r:lobby'],
  frame: Buffer.from(`{"event":"m","data":${offset}}`),
  except: [],
  position: { room: 'lobby', offset, epoch: 'E' },
});

/** A source whose stream holds messages 1..`last` of epoch E; records what it is handed. */
function source(last: number): FeedSource & { delivered: number[] } {
  const delivered: number[] = [];
  return {
    delivered,
    read: async (_room, since): Promise<RoomRead> => ({
      epoch: 'E',
      offset: last,
      recovered: true,
      messages: Array.from({ length: last - since.offset }, (_, i) => ({
        offset: since.offset + i + 1,
        frame: publication(since.offset + i + 1).frame,
      })),
    }),
    deliver: (p) => delivered.push(p.position!.offset),
    lost: () => undefined,
  };
}

describe('RoomFeeds', () => {
  it('hands over a live message that a refill handed over already once, not twice', async () => {
    const feeds = new RoomFeeds();
    feeds.track('r:lobby', 'lobby');
    feeds.saw('lobby', { epoch: 'E', offset: 2 });
    feeds.cutOff();
    const from = source(5); // 3..5 were published while the link was down, or just after
    await feeds.refill(from);
    expect(from.delivered).toEqual([3, 4, 5]);
    // Pub/sub hands over 5 after the refill's read had it: a duplicate, dropped.
    expect(feeds.live(publication(5))).toBe(false);
    expect(feeds.live(publication(6))).toBe(true);
  });

  it('holds live messages while cut off, and passes them after the missed ones', async () => {
    const feeds = new RoomFeeds();
    feeds.track('r:lobby', 'lobby');
    feeds.saw('lobby', { epoch: 'E', offset: 1 });
    feeds.cutOff();
    expect(feeds.live(publication(4))).toBe(false);
    const from = source(3);
    await feeds.refill(from);
    expect(from.delivered).toEqual([2, 3, 4]);
  });
});
