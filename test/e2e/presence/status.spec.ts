import { describe, expect, it } from 'vitest';
import { type PresenceState } from '../../../lib/index.js';
import { errorReply, until, userFromQuery } from '../../support/fixtures.js';
import { ENGINES, engineFixture } from '../../support/engines.js';
import {
  expectNoPresence,
  isPresence,
  offline,
  ok,
  closeAll,
  presenceOf,
  online,
  presenceFrame,
  sleep,
} from '../../support/presence.js';

// -- app and helpers --------------------------------------------------------------

const OFFLINE_DELAY = 200;
const CLEANUP_INTERVAL = 20;
/** Scheduling noise allowed on top of offlineDelay + cleanupInterval. */
const SLACK = 200;
const PRESENCE = {
  offlineDelay: OFFLINE_DELAY,
  cleanupInterval: CLEANUP_INTERVAL,
  batchInterval: 30,
};

// -- tests --------------------------------------------------------------------------

describe.each(ENGINES)('on $name', (engine) => {
  describe('presence: connections and the offline delay', () => {
    const rt = engineFixture(engine, { authenticate: userFromQuery, presence: PRESENCE });
    const { connect } = rt;

    it('multi-tab: only the last tab going makes the user offline, after offlineDelay', async () => {
      const watcher = await connect('w');
      expect(await ok(watcher, 'rt:watch', { users: ['u1'] })).toStrictEqual({
        statuses: [offline('u1')],
      });
      const tabs = [await connect('u1'), await connect('u1'), await connect('u1')];
      const cameOnline = await watcher.next(isPresence);
      expect(cameOnline).toStrictEqual(presenceFrame(online('u1')));
      const state = cameOnline.data as PresenceState;
      expect(await watcher.collect(isPresence)).toStrictEqual([]);
      expect(await presenceOf(rt).getStatus('u1')).toStrictEqual(state);

      for (const [closed, left] of [
        [0, 2],
        [1, 1],
      ] as const) {
        await tabs[closed]!.close();
        await until(() => rt.hub.connections.countByUser('u1') === left);
        // Longer than offlineDelay + cleanupInterval: an offline would have come by now.
        expect(
          await watcher.collect(isPresence, OFFLINE_DELAY + CLEANUP_INTERVAL + 100),
        ).toStrictEqual([]);
        expect(await presenceOf(rt).getStatus('u1')).toStrictEqual(state);
      }

      const closing = Date.now();
      await tabs[2]!.close();
      expect(await watcher.collect(isPresence, OFFLINE_DELAY - 60)).toStrictEqual([]);
      expect(await presenceOf(rt).getStatus('u1')).toStrictEqual(state);
      const gone = await watcher.next(isPresence, 2_000);
      const elapsed = Date.now() - closing;
      expect(gone).toStrictEqual(presenceFrame(offline('u1')));
      expect(elapsed).toBeGreaterThanOrEqual(OFFLINE_DELAY);
      expect(elapsed).toBeLessThanOrEqual(OFFLINE_DELAY + CLEANUP_INTERVAL + SLACK);
      expect(await presenceOf(rt).getStatus('u1')).toStrictEqual(offline('u1'));
      expect(await watcher.collect(isPresence)).toStrictEqual([]);
    });

    it('a reload within offlineDelay is not seen: no frame, the status and since stay', async () => {
      const watcher = await connect('w');
      await ok(watcher, 'rt:watch', { users: ['u1'] });
      const tab = await connect('u1');
      await watcher.next(isPresence);
      const busy = await ok(tab, 'rt:status', { status: 'busy', meta: { activity: 'call' } });
      expect(await watcher.next(isPresence)).toStrictEqual(presenceFrame(busy));

      await closeAll(rt, 'u1', [tab]);
      await sleep(50);
      const reloaded = await connect('u1');
      expect(
        await watcher.collect(isPresence, OFFLINE_DELAY + CLEANUP_INTERVAL + SLACK),
      ).toStrictEqual([]);
      expect(await reloaded.collect(isPresence, 0)).toStrictEqual([]);
      expect(await presenceOf(rt).getStatus('u1')).toStrictEqual(busy);
      expect(await ok(watcher, 'rt:statuses', { users: ['u1'] })).toStrictEqual({
        statuses: [busy],
      });
    });
  });

  describe('presence: rt:status', () => {
    const rt = engineFixture(engine, { authenticate: userFromQuery, presence: PRESENCE });
    const { connect } = rt;

    it("reaches all of the user's tabs (own view) and watchers (public view), and no one else", async () => {
      const tab1 = await connect('u1');
      const tab2 = await connect('u1');
      const watcher = await connect('u2');
      const bystander = await connect('u3');
      const anonymous = await connect();
      const [initial] = (await ok(watcher, 'rt:watch', { users: ['u1'] })).statuses;
      expect(initial).toStrictEqual(online('u1'));

      const meta = { activity: 'in a call', nested: { list: [1, 'two', null, true] }, n: 1.5 };
      const before = Date.now();
      const reply = await tab1.request('rt:status', { status: 'busy', meta });
      const after = Date.now();
      expect(reply).toStrictEqual({
        event: 'rt:reply',
        id: reply.id,
        data: { userId: 'u1', status: 'busy', meta, since: expect.any(Number) },
      });
      const busy = reply.data as PresenceState;
      expect(typeof busy.since).toBe('number');
      expect(busy.since).toBeGreaterThanOrEqual(before);
      expect(busy.since).toBeLessThanOrEqual(after);

      for (const client of [tab1, tab2, watcher]) {
        expect(await client.next(isPresence)).toStrictEqual(presenceFrame(busy));
      }
      await expectNoPresence([tab1, tab2, watcher, bystander, anonymous]);
      expect(await presenceOf(rt).getStatus('u1')).toStrictEqual(busy);
      expect(await ok(bystander, 'rt:statuses', { users: ['u1'] })).toStrictEqual({
        statuses: [busy],
      });

      // From the other tab, meta omitted: it becomes null.
      const away = await ok(tab2, 'rt:status', { status: 'away' });
      expect(away).toStrictEqual({
        userId: 'u1',
        status: 'away',
        meta: null,
        since: expect.any(Number),
      });
      expect(away.since).toBeGreaterThanOrEqual(busy.since!);
      for (const client of [tab1, tab2, watcher]) {
        expect(await client.next(isPresence)).toStrictEqual(presenceFrame(away));
      }
      await expectNoPresence([tab1, tab2, watcher, bystander, anonymous]);
    });
  });

  describe('presence: invisible', () => {
    const rt = engineFixture(engine, { authenticate: userFromQuery, presence: PRESENCE });
    const { connect } = rt;

    it('the user sees invisible, everyone else sees offline, watchers get nothing more', async () => {
      const presence = presenceOf(rt);
      const tab1 = await connect('u1');
      const tab2 = await connect('u1');
      const watcher = await connect('u2');
      const anonymous = await connect();
      await ok(watcher, 'rt:watch', { users: ['u1'] });

      const reply = await ok(tab1, 'rt:status', { status: 'invisible', meta: { note: 'hiding' } });
      const hidden = {
        userId: 'u1',
        status: 'invisible',
        meta: { note: 'hiding' },
        since: expect.any(Number),
      };
      expect(reply).toStrictEqual(hidden);
      for (const tab of [tab1, tab2])
        expect(await tab.next(isPresence)).toStrictEqual(presenceFrame(reply));
      expect(await watcher.next(isPresence)).toStrictEqual(presenceFrame(offline('u1')));
      await expectNoPresence([tab1, tab2, watcher, anonymous]);

      // The user's side.
      expect(await ok(tab2, 'rt:statuses', { users: ['u1'] })).toStrictEqual({ statuses: [reply] });
      expect(await ok(tab2, 'rt:watch', { users: ['u1'] })).toStrictEqual({ statuses: [reply] });
      await ok(tab2, 'rt:unwatch', { users: ['u1'] });
      expect(await presence.getStatus('u1', { viewer: 'u1' })).toStrictEqual(reply);
      // Everyone else's side.
      for (const client of [watcher, anonymous]) {
        expect(await ok(client, 'rt:statuses', { users: ['u1'] })).toStrictEqual({
          statuses: [offline('u1')],
        });
      }
      expect(await ok(anonymous, 'rt:watch', { users: ['u1'] })).toStrictEqual({
        statuses: [offline('u1')],
      });
      expect(await presence.getStatus('u1')).toStrictEqual(offline('u1'));
      expect(await presence.getStatus('u1', { viewer: 'u2' })).toStrictEqual(offline('u1'));
      expect(await presence.getStatuses(['u1'])).toStrictEqual([offline('u1')]);

      // Another tab opening, a meta change, a tab closing: nothing for the others.
      const tab3 = await connect('u1');
      const changed = await ok(tab1, 'rt:status', { status: 'invisible', meta: { note: 'still' } });
      expect(changed).toStrictEqual({ ...hidden, meta: { note: 'still' } });
      for (const tab of [tab1, tab2, tab3]) {
        expect(await tab.next(isPresence)).toStrictEqual(presenceFrame(changed));
      }
      await tab3.close();
      await until(() => rt.hub.connections.countByUser('u1') === 2);
      await expectNoPresence([watcher, anonymous], OFFLINE_DELAY + CLEANUP_INTERVAL + 100);
      expect(await presence.getStatus('u1')).toStrictEqual(offline('u1'));

      // Visible again: the watchers see the new state.
      const back = await ok(tab2, 'rt:status', { status: 'online', meta: { back: true } });
      expect(back).toStrictEqual({
        userId: 'u1',
        status: 'online',
        meta: { back: true },
        since: expect.any(Number),
      });
      for (const client of [tab1, tab2, watcher, anonymous]) {
        expect(await client.next(isPresence)).toStrictEqual(presenceFrame(back));
      }
      await expectNoPresence([tab1, tab2, watcher, anonymous]);
      expect(await presence.getStatus('u1')).toStrictEqual(back);
    });

    it('an invisible user going away is not announced; coming back starts online', async () => {
      // Watched before u1 comes: on Redis an announcement reaches watchers through
      // pub/sub, after whatever this node answered meanwhile.
      const watcher = await connect('u2');
      await ok(watcher, 'rt:watch', { users: ['u1'] });
      const tab = await connect('u1');
      expect(await watcher.next(isPresence)).toStrictEqual(presenceFrame(online('u1')));
      await ok(tab, 'rt:status', { status: 'invisible' });
      expect(await watcher.next(isPresence)).toStrictEqual(presenceFrame(offline('u1')));

      await closeAll(rt, 'u1', [tab]);
      await expectNoPresence([watcher], OFFLINE_DELAY + CLEANUP_INTERVAL + SLACK);
      expect(await presenceOf(rt).getStatus('u1', { viewer: 'u1' })).toStrictEqual(offline('u1'));

      // Gone for good: a new presence starts as online, and is announced.
      await connect('u1');
      expect(await watcher.next(isPresence)).toStrictEqual(presenceFrame(online('u1')));
      await expectNoPresence([watcher]);
    });
  });

  describe('presence: rt:watch and rt:unwatch', () => {
    const rt = engineFixture(engine, { authenticate: userFromQuery, presence: PRESENCE });
    const { connect } = rt;

    it('the reply holds the current states in order; unwatch counts and stops the frames', async () => {
      const u2 = await connect('u2');
      const busy = await ok(u2, 'rt:status', { status: 'busy', meta: { x: 1 } });
      const watcher = await connect('w');
      expect(await ok(watcher, 'rt:watch', { users: ['u3', 'u2'] })).toStrictEqual({
        statuses: [offline('u3'), busy],
      });
      expect(await ok(watcher, 'rt:unwatch', { users: ['u3'] })).toStrictEqual({ watching: 1 });
      const u3 = await connect('u3');
      await expectNoPresence([watcher]);

      const away = await ok(u2, 'rt:status', { status: 'away' });
      expect(await watcher.next(isPresence)).toStrictEqual(presenceFrame(away));
      expect(await ok(watcher, 'rt:unwatch', { users: ['u2', 'nobody'] })).toStrictEqual({
        watching: 0,
      });
      expect(await ok(watcher, 'rt:unwatch', { users: ['u2'] })).toStrictEqual({ watching: 0 });
      await ok(u2, 'rt:status', { status: 'online' });
      await ok(u3, 'rt:status', { status: 'busy' });
      await expectNoPresence([watcher]);

      // Watching again works, and repeating a user in one request counts once.
      const again = await ok(watcher, 'rt:watch', { users: ['u2', 'u2'] });
      expect(again.statuses).toHaveLength(2);
      expect(again.statuses[0]).toMatchObject({ userId: 'u2', status: 'online' });
      expect(await ok(watcher, 'rt:unwatch', { users: [] })).toStrictEqual({ watching: 1 });
      const last = await ok(u2, 'rt:status', { status: 'away' });
      expect(await watcher.next(isPresence)).toStrictEqual(presenceFrame(last));
      await expectNoPresence([watcher]);
    });

    it('a watch outlives the user going offline and back, and ends when the watcher closes', async () => {
      const w1 = await connect('w1');
      const w2 = await connect('w2');
      for (const w of [w1, w2]) await ok(w, 'rt:watch', { users: ['u2'] });

      const first = await connect('u2');
      for (const w of [w1, w2])
        expect(await w.next(isPresence)).toStrictEqual(presenceFrame(online('u2')));
      await closeAll(rt, 'u2', [first]);
      for (const w of [w1, w2]) {
        expect(await w.next(isPresence, 2_000)).toStrictEqual(presenceFrame(offline('u2')));
      }
      const second = await connect('u2');
      for (const w of [w1, w2])
        expect(await w.next(isPresence)).toStrictEqual(presenceFrame(online('u2')));

      await w1.close();
      await until(() => rt.hub.connections.subscriberCount('p:u2') === 1);
      const away = await ok(second, 'rt:status', { status: 'away' });
      expect(await w2.next(isPresence)).toStrictEqual(presenceFrame(away));
      await w2.close();
      await until(() => rt.hub.connections.subscribers('p:u2') === undefined);
    });
  });

  describe('presence: watch limit', () => {
    const { connect } = engineFixture(engine, {
      authenticate: userFromQuery,
      presence: { ...PRESENCE, maxWatchedPerConnection: 2 },
    });

    it('WATCH_LIMIT_REACHED past maxWatchedPerConnection; the failed watch adds nobody', async () => {
      const watcher = await connect('w');
      expect((await ok(watcher, 'rt:watch', { users: ['a', 'b'] })).statuses).toStrictEqual([
        offline('a'),
        offline('b'),
      ]);
      const over = await watcher.request('rt:watch', { users: ['c'] });
      expect(over).toStrictEqual(errorReply(over.id!, 'WATCH_LIMIT_REACHED'));
      // Users already watched do not count again.
      expect((await ok(watcher, 'rt:watch', { users: ['b', 'a', 'b'] })).statuses).toHaveLength(3);
      const mixed = await watcher.request('rt:watch', { users: ['b', 'c'] });
      expect(mixed).toStrictEqual(errorReply(mixed.id!, 'WATCH_LIMIT_REACHED'));
      await connect('c');
      await expectNoPresence([watcher]);
      expect(await ok(watcher, 'rt:unwatch', { users: [] })).toStrictEqual({ watching: 2 });

      expect(await ok(watcher, 'rt:unwatch', { users: ['a'] })).toStrictEqual({ watching: 1 });
      expect(await ok(watcher, 'rt:watch', { users: ['c'] })).toStrictEqual({
        statuses: [online('c')],
      });

      // The limit is per connection; a fresh one is refused three at once.
      const other = await connect('w');
      expect((await ok(other, 'rt:watch', { users: ['x', 'y'] })).statuses).toHaveLength(2);
      const fresh = await connect('w');
      const three = await fresh.request('rt:watch', { users: ['a', 'b', 'c'] });
      expect(three).toStrictEqual(errorReply(three.id!, 'WATCH_LIMIT_REACHED'));
      expect(await ok(fresh, 'rt:unwatch', { users: [] })).toStrictEqual({ watching: 0 });
    });
  });
});
