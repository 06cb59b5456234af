// Room names as labels, only where the app asks (`metrics.roomLabels`), at most
// `metrics.maxRoomSeries` of them; never otherwise.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { RealtimeModuleOptions } from '../../../lib/index.js';
import type { TestApp } from '../../support/app.js';
import { join, userFromQuery, withHarness } from '../../support/fixtures.js';
import { scrape, type Scrape } from '../../support/prometheus.js';
import { eventIs } from '../../support/ws-client.js';

/** The samples of `name`, each with its name. */
function named(seen: Scrape, name: string) {
  return seen.series(name).map(({ labels, value }) => ({ name, labels, value }));
}

/** Every sample of the scrape, whatever its name (a histogram's as `_bucket`, `_sum`, `_count`). */
function everySample(seen: Scrape) {
  const samples = [...seen.types].flatMap(([name, type]) =>
    type === 'histogram'
      ? ['_bucket', '_sum', '_count'].flatMap((suffix) => named(seen, `${name}${suffix}`))
      : named(seen, name),
  );
  // None was missed: as many as the text has sample lines.
  const lines = seen.text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  expect(samples).toHaveLength(lines.length);
  return samples;
}

describe('room labels', () => {
  const harness = withHarness();

  /** An app with these metrics options; ann is in every room, ben in support:a. */
  async function scenario(
    metrics: Omit<NonNullable<RealtimeModuleOptions['metrics']>, 'type'>,
  ): Promise<{ app: TestApp; seen: Scrape }> {
    const app = await harness.start({
      authenticate: userFromQuery,
      presence: false,
      metrics: { type: 'prometheus', registry: new Registry(), path: '/metrics', ...metrics },
    });
    const ann = await harness.connect(`${app.wsUrl}?user=ann`);
    const ben = await harness.connect(`${app.wsUrl}?user=ben`);
    const rooms = ['support:a', 'support:b', 'support:c', 'lobby'];
    for (const room of rooms) await join(ann, room);
    await join(ben, 'support:a');
    for (const room of rooms) await app.hub.to(room).emit('m', room);
    for (const room of rooms) await ann.next((frame) => eventIs('m')(frame) && frame.data === room);
    await ann.request('rt:publish', { room: 'support:a', event: 'm', data: 'from ann' });
    await ben.next((frame) => eventIs('m')(frame) && frame.data === 'from ann');
    return { app, seen: await scrape(`http://127.0.0.1:${app.port}/metrics`) };
  }

  it('labels the rooms that match, up to maxRoomSeries; later ones share _other; others get none', async () => {
    const { seen } = await scenario({ roomLabels: ['support:*'], maxRoomSeries: 2 });
    // Published to in the order a, b, c: c came past the cap.
    expect(named(seen, 'realtime_room_publishes_total')).toEqual([
      { name: 'realtime_room_publishes_total', labels: { room: 'support:a' }, value: 2 },
      { name: 'realtime_room_publishes_total', labels: { room: 'support:b' }, value: 1 },
      { name: 'realtime_room_publishes_total', labels: { room: '_other' }, value: 1 },
    ]);
    expect(named(seen, 'realtime_room_members')).toEqual([
      { name: 'realtime_room_members', labels: { room: 'support:a' }, value: 2 },
      { name: 'realtime_room_members', labels: { room: 'support:b' }, value: 1 },
      { name: 'realtime_room_members', labels: { room: '_other' }, value: 1 },
    ]);
    // Only these two families carry a room label.
    const labelled = new Set(
      everySample(seen)
        .filter((sample) => 'room' in sample.labels)
        .map((sample) => sample.name),
    );
    expect([...labelled].toSorted()).toEqual([
      'realtime_room_members',
      'realtime_room_publishes_total',
    ]);
    // The unlabelled totals still count every room.
    expect(seen.value('realtime_publishes_total')).toBe(5);
    expect(seen.value('realtime_room_memberships')).toBe(5);
  });

  it('without roomLabels, no series carries a room label at all', async () => {
    const { seen } = await scenario({});
    const samples = everySample(seen);
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.filter((sample) => 'room' in sample.labels)).toEqual([]);
    expect(seen.types.has('realtime_room_publishes_total')).toBe(false);
    expect(seen.types.has('realtime_room_members')).toBe(false);
    // The same scenario was counted.
    expect(seen.value('realtime_publishes_total')).toBe(5);
    expect(seen.value('realtime_rooms')).toBe(4);
  });
});
