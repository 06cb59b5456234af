import { describe, expect, it } from 'vitest';
import {
  PresenceService,
  RealtimeConfigError,
  RealtimeError,
  type PresenceState,
  type RealtimeModuleOptions,
} from '../../../lib/index.js';
import {
  appForEachTest,
  errorReply,
  expectAlive,
  until,
  userFromQuery,
  withHarness,
} from '../../support/fixtures.js';
import { joinReply } from '../../support/room-frames.js';
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
import { isAnswer, type TestClient } from '../../support/ws-client.js';

// The PresenceService API, bad presence input over the wire, presence: false, and
// the start-up check of presence.timeout. See presence-status.spec.ts for the rest.

// -- app and helpers --------------------------------------------------------------

const PRESENCE = { offlineDelay: 200, cleanupInterval: 20, batchInterval: 30 };

/** Sends `event` with `data` and expects the documented error reply, then a live connection. */
async function expectRefused(
  client: TestClient,
  event: string,
  data: unknown,
  code: string,
): Promise<void> {
  const reply = await client.request(event, data);
  // The request rides along, so that a failure names the case.
  expect({ event, data, reply }).toStrictEqual({ event, data, reply: errorReply(reply.id!, code) });
  await expectAlive(client);
}

// -- tests --------------------------------------------------------------------------

describe('presence: the PresenceService API', () => {
  const rt = appForEachTest({ authenticate: userFromQuery, presence: PRESENCE });
  const { connect } = rt;

  it('setStatus reaches the tabs and watchers; USER_OFFLINE for a user who is not there', async () => {
    const presence = presenceOf(rt);
    await expect(presence.setStatus('ghost', 'busy')).rejects.toBeInstanceOf(RealtimeError);
    await expect(presence.setStatus('ghost', 'busy')).rejects.toMatchObject({
      code: 'USER_OFFLINE',
    });

    const tab = await connect('u1');
    const watcher = await connect('w');
    await ok(watcher, 'rt:watch', { users: ['u1'] });
    const state = await presence.setStatus('u1', 'away', { reason: 'lunch' });
    expect(state).toStrictEqual({
      userId: 'u1',
      status: 'away',
      meta: { reason: 'lunch' },
      since: expect.any(Number),
    });
    expect(await tab.next(isPresence)).toStrictEqual(presenceFrame(state));
    expect(await watcher.next(isPresence)).toStrictEqual(presenceFrame(state));
    await expectNoPresence([tab, watcher]);

    // Once the user has gone offline, there is no status to set.
    await closeAll(rt, 'u1', [tab]);
    expect(await watcher.next(isPresence, 2_000)).toStrictEqual(presenceFrame(offline('u1')));
    await expect(presence.setStatus('u1', 'busy')).rejects.toMatchObject({ code: 'USER_OFFLINE' });
  });

  it('setStatus refuses a bad status or meta with INVALID_DATA, and changes nothing', async () => {
    const presence = presenceOf(rt);
    const tab = await connect('u1');
    const watcher = await connect('w');
    await ok(watcher, 'rt:watch', { users: ['u1'] });
    const before = await presence.getStatus('u1');
    const bad: [string, unknown][] = [
      ['sleeping', null],
      ['offline', null],
      ['busy', ['not', 'an', 'object']],
      ['busy', 'text'],
      ['busy', { text: 'x'.repeat(1_100) }],
    ];
    for (const [status, meta] of bad) {
      await expect(presence.setStatus('u1', status as never, meta as never)).rejects.toMatchObject({
        name: 'RealtimeError',
        code: 'INVALID_DATA',
      });
    }
    await expectNoPresence([tab, watcher]);
    expect(await presence.getStatus('u1')).toStrictEqual(before);
  });

  it('getStatus and getStatuses answer in the order asked, per viewer', async () => {
    const presence = presenceOf(rt);
    const u1 = await connect('u1');
    const u2 = await connect('u2');
    const u3 = await connect('u3');
    const s1 = await ok(u1, 'rt:status', { status: 'online' });
    const s2 = await ok(u2, 'rt:status', { status: 'invisible' });
    const s3 = await ok(u3, 'rt:status', { status: 'busy', meta: { m: 3 } });
    expect(await presence.getStatuses(['u3', 'ghost', 'u1', 'u2', 'u3'])).toStrictEqual([
      s3,
      offline('ghost'),
      s1,
      offline('u2'),
      s3,
    ]);
    expect(await presence.getStatuses(['u2', 'u1'], { viewer: 'u2' })).toStrictEqual([s2, s1]);
    expect(await presence.getStatuses([])).toStrictEqual([]);
    expect(await presence.getStatus('u2', { viewer: 'u2' })).toStrictEqual(s2);
    expect(await presence.getStatus('u2')).toStrictEqual(offline('u2'));
  });

  it('watch(ids) is an Observable of public changes that stops on unsubscribe', async () => {
    const presence = presenceOf(rt);
    const seen: PresenceState[] = [];
    const subscription = presence.watch(['u1', 'u2']).subscribe((state) => seen.push(state));
    const tab = await connect('u1');
    await until(() => seen.length === 1);
    expect(seen).toStrictEqual([online('u1')]);
    const busy = await presence.setStatus('u1', 'busy', { m: 1 });
    await ok(tab, 'rt:status', { status: 'invisible' });
    await until(() => seen.length === 3);
    expect(seen).toStrictEqual([online('u1'), busy, offline('u1')]);

    subscription.unsubscribe();
    await presence.setStatus('u1', 'online');
    await connect('u2');
    await sleep(150);
    expect(seen).toHaveLength(3);
  });

  it('watch(ids, callback) returns the function that stops it', async () => {
    const presence = presenceOf(rt);
    const seen: PresenceState[] = [];
    const stop = presence.watch('u1', (state) => seen.push(state));
    expect(typeof stop).toBe('function');
    await connect('u1');
    await until(() => seen.length === 1);
    const away = await presence.setStatus('u1', 'away');
    expect(seen).toStrictEqual([online('u1'), away]);
    stop();
    await presence.setStatus('u1', 'busy');
    await sleep(150);
    expect(seen).toStrictEqual([online('u1'), away]);
    expect(() => presence.watch([''])).toThrow(RealtimeError);
  });
});

describe('presence: bad input over the wire', () => {
  const rt = appForEachTest({
    authenticate: userFromQuery,
    presence: { ...PRESENCE, maxMetaBytes: 64 },
  });
  const { connect } = rt;

  /** u1's tab and a watcher of u1; after a refusal, neither gets anything and u1 is unchanged. */
  async function watched(): Promise<{
    tab: TestClient;
    watcher: TestClient;
    expectUnchanged(): Promise<void>;
  }> {
    const tab = await connect('u1');
    const watcher = await connect('w');
    const [initial] = (await ok(watcher, 'rt:watch', { users: ['u1'] })).statuses;
    expect(initial).toStrictEqual(online('u1'));
    return {
      tab,
      watcher,
      async expectUnchanged() {
        await expectNoPresence([tab, watcher]);
        expect(await presenceOf(rt).getStatus('u1', { viewer: 'u1' })).toStrictEqual(initial);
      },
    };
  }

  it('rt:status with an unknown, missing or unchoosable status: INVALID_DATA', async () => {
    const { tab, expectUnchanged } = await watched();
    for (const data of [
      { status: 'sleeping' },
      {},
      { meta: { a: 1 } },
      { status: 'offline' },
      { status: 'BUSY' },
      { status: 1 },
      { status: null },
      undefined,
      'busy',
      ['busy'],
    ]) {
      await expectRefused(tab, 'rt:status', data, 'INVALID_DATA');
    }
    expect(tab.frames.filter(isAnswer)).toStrictEqual([]);
    await expectUnchanged();
  });

  it('rt:status with meta not an object, or over maxMetaBytes: INVALID_DATA', async () => {
    const { tab, watcher, expectUnchanged } = await watched();
    // {"k":"…"} is 8 bytes of JSON around the value.
    const fits = { k: 'x'.repeat(56) };
    const over = { k: 'x'.repeat(57) };
    expect(Buffer.byteLength(JSON.stringify(fits))).toBe(64);
    for (const meta of [[1, 2], [], 'text', 3, true, over, { k: 'é'.repeat(29) }]) {
      await expectRefused(tab, 'rt:status', { status: 'busy', meta }, 'INVALID_DATA');
    }
    await expectUnchanged();

    const accepted = await ok(tab, 'rt:status', { status: 'busy', meta: fits });
    expect(accepted).toMatchObject({ status: 'busy', meta: fits });
    expect(await watcher.next(isPresence)).toStrictEqual(presenceFrame(accepted));
    expect(await ok(tab, 'rt:status', { status: 'away', meta: null })).toMatchObject({
      status: 'away',
      meta: null,
    });
  });

  it('rt:status without an id is answered with an rt:error frame naming the event', async () => {
    const { tab, expectUnchanged } = await watched();
    tab.send({ event: 'rt:status', data: { status: 'sleeping' } });
    expect(await tab.next(isAnswer)).toStrictEqual({
      event: 'rt:error',
      data: { code: 'INVALID_DATA', message: expect.any(String), event: 'rt:status' },
    });
    await expectAlive(tab);
    await expectUnchanged();
  });

  it("rt:status with someone else's userId: FORBIDDEN; with one's own: accepted", async () => {
    const { tab, watcher, expectUnchanged } = await watched();
    const other = await connect('u2');
    const u2 = await presenceOf(rt).getStatus('u2');
    await expectRefused(tab, 'rt:status', { status: 'busy', userId: 'u2' }, 'FORBIDDEN');
    await expectUnchanged();
    expect(await other.collect(isPresence, 0)).toStrictEqual([]);
    expect(await presenceOf(rt).getStatus('u2')).toStrictEqual(u2);

    const own = await ok(tab, 'rt:status', { status: 'busy', userId: 'u1' });
    expect(own).toStrictEqual({
      userId: 'u1',
      status: 'busy',
      meta: null,
      since: expect.any(Number),
    });
    expect(await watcher.next(isPresence)).toStrictEqual(presenceFrame(own));
  });

  it('rt:status from an anonymous connection: NOT_AUTHENTICATED; it can still read presence', async () => {
    const { tab } = await watched();
    const anonymous = await connect();
    await expectRefused(anonymous, 'rt:status', { status: 'busy' }, 'NOT_AUTHENTICATED');
    expect(await ok(anonymous, 'rt:statuses', { users: ['u1'] })).toStrictEqual({
      statuses: [online('u1')],
    });
    await ok(anonymous, 'rt:watch', { users: ['u1'] });
    const away = await ok(tab, 'rt:status', { status: 'away' });
    expect(await anonymous.next(isPresence)).toStrictEqual(presenceFrame(away));
  });

  const badUsers: [string, unknown][] = [
    ['data missing', undefined],
    ['data not an object', ['u1']],
    ['users missing', {}],
    ['users not an array', { users: 'u1' }],
    ['users null', { users: null }],
    ['an empty id', { users: ['u1', ''] }],
    ['a number', { users: ['u1', 1] }],
    ['null', { users: [null] }],
    ['an id of 201 characters', { users: ['x'.repeat(201)] }],
    ['1001 ids', { users: Array.from({ length: 1001 }, (_, i) => `user${i}`) }],
  ];

  for (const event of ['rt:statuses', 'rt:watch', 'rt:unwatch']) {
    it(`${event} with bad users: INVALID_DATA; 1000 ids of 200 characters are fine`, async () => {
      const client = await connect('w');
      for (const [name, data] of badUsers) {
        const reply = await client.request(event, data);
        expect({ name, reply }).toStrictEqual({
          name,
          reply: errorReply(reply.id!, 'INVALID_DATA'),
        });
        await expectAlive(client);
      }
      const many = Array.from({ length: 1000 }, (_, i) => `${i}`.padStart(200, 'x'));
      const reply = await ok(client, event, { users: many });
      const expected =
        event === 'rt:unwatch'
          ? { watching: 0 }
          : { statuses: many.map((userId) => offline(userId)) };
      expect(reply).toStrictEqual(expected);
    });
  }

  it('a refused rt:watch watches nobody, not even the valid ids it held', async () => {
    const watcher = await connect('w');
    await expectRefused(watcher, 'rt:watch', { users: ['u1', ''] }, 'INVALID_DATA');
    await expectRefused(watcher, 'rt:watch', { users: ['u1', 2] }, 'INVALID_DATA');
    await connect('u1');
    await expectNoPresence([watcher]);
    expect(await ok(watcher, 'rt:unwatch', { users: [] })).toStrictEqual({ watching: 0 });
  });
});

describe('presence: false', () => {
  const rt = appForEachTest({ authenticate: userFromQuery, presence: false });

  it('the presence events are UNKNOWN_EVENT, and rt:join {presence: true} is INVALID_DATA', async () => {
    const client = await rt.connect('u1');
    expect(presenceOf(rt).enabled).toBe(false);
    for (const [event, data] of [
      ['rt:status', { status: 'busy' }],
      ['rt:statuses', { users: ['u1'] }],
      ['rt:watch', { users: ['u1'] }],
      ['rt:unwatch', { users: ['u1'] }],
      ['rt:members', { room: 'lobby' }],
    ] as const) {
      await expectRefused(client, event, data, 'UNKNOWN_EVENT');
    }
    await expectRefused(client, 'rt:join', { room: 'lobby', presence: true }, 'INVALID_DATA');
    const notIn = await client.request('rt:room', { room: 'lobby' });
    expect(notIn).toStrictEqual(errorReply(notIn.id!, 'NOT_IN_ROOM'));
    expect(await ok(client, 'rt:join', { room: 'lobby', presence: false })).toStrictEqual(
      joinReply({ name: 'lobby', size: 1, created: expect.any(Number), persistent: false }),
    );
    expect(await client.collect(isPresence)).toStrictEqual([]);
  });
});

describe('presence: the start-up check of presence.timeout', () => {
  const { start } = withHarness();
  const quiet = { logger: false } as const;

  it.each<[string, RealtimeModuleOptions]>([
    ['below the default pingInterval + pongTimeout (35000)', { presence: { timeout: 34_999 } }],
    [
      'below a custom pingInterval + pongTimeout',
      {
        websocket: { pingInterval: 1_000, pongTimeout: 500 },
        presence: { heartbeatInterval: 400, timeout: 1_499 },
      },
    ],
    ['not above heartbeatInterval', { presence: { heartbeatInterval: 40_000, timeout: 40_000 } }],
  ])('fails when presence.timeout is %s', async (_name, options) => {
    const failure = start({ authenticate: userFromQuery, ...options }, {}, quiet);
    await expect(failure).rejects.toBeInstanceOf(RealtimeConfigError);
    await expect(failure).rejects.toMatchObject({ option: 'presence.timeout' });
    await expect(failure).rejects.toThrow(/"presence\.timeout"/);
  });

  it('starts when presence.timeout equals pingInterval + pongTimeout', async () => {
    const app = await start(
      {
        authenticate: userFromQuery,
        websocket: { pingInterval: 1_000, pongTimeout: 500 },
        presence: { heartbeatInterval: 400, timeout: 1_500 },
      },
      {},
      quiet,
    );
    expect(app.app.get(PresenceService).enabled).toBe(true);
  });
});
