import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  RealtimeConfigError,
  RealtimeEngine,
  type RealtimeModuleOptions,
} from '../../../lib/index.js';
import {
  appForEachTest,
  errorReply,
  expectAlive,
  join,
  leftovers,
  until,
  userFromQuery,
  withHarness,
  type AppFixture,
} from '../../support/fixtures.js';
import { ENGINES, REDIS, engineFixture, type EngineFixture } from '../../support/engines.js';
import { joinReply } from '../../support/room-frames.js';
import { eventIs, type Frame, type TestClient } from '../../support/ws-client.js';

// Offsets, epochs, history and recovery (docs/protocol.md, "Offsets, epochs and
// recovery"). Every room of a test is fresh, and its message n carries data n, so
// that a frame's data is the offset it must have.

const OPTIONS = {
  authenticate: userFromQuery,
  history: { rooms: { 'h:*': { maxCount: 50, maxAge: 60_000 } }, recoveryLimit: 20 },
} satisfies RealtimeModuleOptions;

/** The fixture of the running test (each engine's, below): what the helpers use. */
let current: AppFixture;

/** Message n of `room` as every member gets it: data n at offset n. */
function message(room: string, n: number, epoch: string): Frame {
  return { event: 'm', data: n, room, offset: n, epoch };
}

/**
 * Emits messages `from`..`to` (data n) to one room, in order: from the publishing node,
 * another node than the clients' on `two nodes`.
 */
async function emitRange(room: string, from: number, to: number, fixture: AppFixture = current) {
  const hub = 'publish' in fixture ? (fixture as EngineFixture).publish : fixture.hub;
  for (let n = from; n <= to; n++) await hub.to(room).emit('m', n);
}

/** Every frame `client` receives from now on, in arrival order (nothing consumes them). */
function record(client: TestClient): Frame[] {
  const log: Frame[] = [];
  client.socket.on('message', (raw) => log.push(JSON.parse(raw.toString()) as Frame));
  return log;
}

const offsetsOf = (frames: readonly Frame[]): (number | undefined)[] =>
  frames.filter(eventIs('m')).map((frame) => frame.offset);

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Lets the event loop turn `n` times (setImmediate callbacks queued meanwhile run). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * A client that joined `room`, saw messages 1..`seen` emitted to it, and went away:
 * the position it comes back with.
 */
async function seenThenGone(
  room: string,
  seen: number,
  fixture: AppFixture = current,
): Promise<{ epoch: string; offset: number }> {
  const client = await fixture.connect('alice');
  const { epoch } = await join(client, room);
  await emitRange(room, 1, seen, fixture);
  for (let n = 1; n <= seen; n++) {
    expect(await client.next(eventIs('m'))).toStrictEqual(message(room, n, epoch));
  }
  await client.close();
  await until(() => fixture.hub.connections.count() === 0);
  return { epoch, offset: seen };
}

/** rt:join with `since`; returns the reply frame. */
function rejoin(client: TestClient, room: string, since: unknown): Promise<Frame> {
  return client.request('rt:join', { room, since });
}

/** The data of a successful join reply with `since`. */
function recoveredReply(room: string, epoch: string, offset: number, recovered: boolean) {
  return {
    ...joinReply({ name: room, size: 1, created: expect.any(Number), persistent: false }, offset),
    epoch,
    recovered,
  };
}

/** Comes back at `since`: `recovered: false` at `position`, no old message, live ones flowing. */
async function expectRefused(
  room: string,
  since: { epoch: string; offset: number },
  position: { epoch: string; offset: number },
  fixture: AppFixture = current,
): Promise<void> {
  const back = await fixture.connect('alice');
  const reply = await rejoin(back, room, since);
  expect(reply.data).toStrictEqual(recoveredReply(room, position.epoch, position.offset, false));
  expect(await leftovers(back)).toStrictEqual([]);
  const next = position.offset + 1;
  await fixture.hub.to(room).emit('m', next);
  expect(await back.next(eventIs('m'))).toStrictEqual(message(room, next, position.epoch));
}

/** Another app, with its own options, started inside a test and closed with it. */
async function startFixture(options: RealtimeModuleOptions): Promise<AppFixture> {
  const app = await current.harness.start(options);
  return {
    app,
    hub: app.hub,
    harness: current.harness,
    connect: (user) =>
      current.harness.connect(
        user === undefined ? app.wsUrl : `${app.wsUrl}?user=${encodeURIComponent(user)}`,
      ),
  };
}

describe.each(ENGINES)('on $name', (engineCase) => {
  const rt = engineFixture(engineCase, OPTIONS);
  beforeEach(() => {
    current = rt;
  });

  describe('offsets and epochs', () => {
    it('numbers the messages of each room 1, 2, 3... in one epoch; several rooms, none', async () => {
      const a = await rt.connect('alice');
      const { epoch: e1, offset: start1 } = await join(a, 'h:o1');
      const { epoch: e2, offset: start2 } = await join(a, 'h:o2');
      expect([start1, start2]).toStrictEqual([0, 0]);

      await emitRange('h:o1', 1, 3);
      for (const n of [1, 2, 3]) {
        expect(await a.next(eventIs('m'))).toStrictEqual(message('h:o1', n, e1));
      }
      // Another room has its own numbering.
      await emitRange('h:o2', 1, 2);
      for (const n of [1, 2]) {
        expect(await a.next(eventIs('m'))).toStrictEqual(message('h:o2', n, e2));
      }
      // To two rooms, to a user, to everyone: no room, no offset, no epoch; none taken.
      await rt.hub.to(['h:o1', 'h:o2']).emit('multi', 1);
      await rt.hub.toUser('alice').emit('multi', 2);
      await rt.hub.emit('multi', 3);
      for (const n of [1, 2, 3]) {
        expect(await a.next(eventIs('multi'))).toStrictEqual({ event: 'multi', data: n });
      }
      await rt.hub.to('h:o1').emit('m', 4);
      expect(await a.next(eventIs('m'))).toStrictEqual(message('h:o1', 4, e1));
      // A batch to one room is one message; rt:publish is numbered too.
      await rt.hub.to('h:o1').emitBatch([{ event: 'x', data: 1 }, { event: 'y' }]);
      expect(await a.next(eventIs('rt:batch'))).toStrictEqual({
        event: 'rt:batch',
        data: [{ event: 'x', data: 1 }, { event: 'y' }],
        room: 'h:o1',
        offset: 5,
        epoch: e1,
      });
      const published = await a.request('rt:publish', {
        room: 'h:o1',
        event: 'm',
        data: 6,
        echo: true,
      });
      expect(published.error).toBeUndefined();
      expect(await a.next(eventIs('m'))).toStrictEqual(message('h:o1', 6, e1));

      // A join reply gives the stream's position: the last offset, in the same epoch.
      const b = await rt.connect('bob');
      expect(await join(b, 'h:o1')).toStrictEqual({
        ...joinReply({ name: 'h:o1', size: 2, created: expect.any(Number), persistent: false }, 6),
        epoch: e1,
      });
      expect(await leftovers(a)).toStrictEqual([]);
    });
  });

  describe('recovery', () => {
    it('after a drop, replays exactly the missed messages, once each, in order, then live ones', async () => {
      const { epoch } = await seenThenGone('h:1', 3);
      await emitRange('h:1', 4, 8);

      const back = await rt.connect('alice');
      const log = record(back);
      const reply = await rejoin(back, 'h:1', { epoch, offset: 3 });
      expect(reply.data).toStrictEqual(recoveredReply('h:1', epoch, 8, true));
      await rt.hub.to('h:1').emit('m', 9);
      await back.next((frame) => frame.offset === 9);
      await leftovers(back); // a while longer, for a late duplicate to show
      // The missed ones come before the reply, the live one after it: nothing else.
      expect(log).toStrictEqual([
        ...range(4, 8).map((n) => message('h:1', n, epoch)),
        reply,
        message('h:1', 9, epoch),
      ]);
    });

    it('leaves no gap and no duplicate at the seam while the room keeps getting messages', async () => {
      const { epoch } = await seenThenGone('h:2', 3);
      await emitRange('h:2', 4, 8);

      const back = await rt.connect('alice');
      const log = record(back);
      // Messages keep coming, one per event-loop turn, before, during and after the join
      // (at most 10, so that the missed ones stay under recoveryLimit).
      let last = 8;
      const emitted: Promise<unknown>[] = [];
      const loop = (): void => {
        if (last >= 18) return;
        emitted.push(rt.hub.to('h:2').emit('m', ++last));
        setImmediate(loop);
      };
      setImmediate(loop);
      const reply = await rejoin(back, 'h:2', { epoch, offset: 3 });
      await until(() => last === 18);
      await Promise.all(emitted);
      await until(() => log.some((frame) => frame.offset === 18));

      expect(reply.data).toMatchObject({ epoch, recovered: true });
      expect(reply.data.offset).toBeGreaterThanOrEqual(8);
      expect(offsetsOf(log)).toStrictEqual(range(4, 18));
      expect(log.filter(eventIs('m'))).toStrictEqual(
        range(4, 18).map((n) => message('h:2', n, epoch)),
      );
    });

    it('leaves no gap and no duplicate when messages arrive while the engine reads the history', async () => {
      // A slow engine (as a networked one is): the join's history read waits a few
      // event-loop turns before and after it reads, while messages keep coming. Those
      // before the read are in it and held live too (sent once); those after it are
      // held and sent after it.
      const engine = rt.app.app.get<RealtimeEngine>(RealtimeEngine).broker;
      const read = engine.readRoom.bind(engine);
      let last = 8;
      const emitted: Promise<unknown>[] = [];
      const loop = (): void => {
        if (last >= 18) return;
        emitted.push(rt.hub.to('h:3').emit('m', ++last));
        setImmediate(loop);
      };
      const seen = { atCall: 0, readOffset: 0, atReturn: 0 };
      vi.spyOn(engine, 'readRoom').mockImplementation(async (room, since, limit, now) => {
        if (!since) return read(room, since, limit, now);
        seen.atCall = last;
        loop();
        await turns(3);
        const result = await read(room, since, limit, Date.now());
        seen.readOffset = result.offset;
        await turns(3);
        seen.atReturn = last;
        return result;
      });

      const { epoch } = await seenThenGone('h:3', 3);
      await emitRange('h:3', 4, 8);
      const back = await rt.connect('alice');
      const log = record(back);
      const reply = await rejoin(back, 'h:3', { epoch, offset: 3 });
      await until(() => last === 18);
      await Promise.all(emitted);
      await until(() => log.some((frame) => frame.offset === 18));

      // Both sides of the seam were exercised.
      expect(seen.atCall).toBe(8);
      expect(seen.readOffset).toBeGreaterThan(seen.atCall);
      expect(seen.atReturn).toBeGreaterThan(seen.readOffset);
      expect(reply.data).toStrictEqual(recoveredReply('h:3', epoch, seen.readOffset, true));
      expect(log.filter(eventIs('m'))).toStrictEqual(
        range(4, 18).map((n) => message('h:3', n, epoch)),
      );
      // Everything the read covered came before the reply; on an engine that delivers
      // as it publishes, everything up to the join's end did. (Redis hands over pub/sub
      // after its reads: what was published meanwhile may follow the reply, in order.)
      const replyAt = log.indexOf(log.find((frame) => frame.event === 'rt:reply')!);
      const beforeReply = offsetsOf(log.slice(0, replyAt));
      const upTo = engineCase === REDIS ? seen.readOffset : seen.atReturn;
      const covered = engineCase === REDIS ? beforeReply.slice(0, upTo - 3) : beforeReply;
      expect(covered).toStrictEqual(range(4, upTo));
    });
  });

  describe('recovered: false', () => {
    it('when the epoch differs', async () => {
      const { epoch } = await seenThenGone('h:e', 3);
      await emitRange('h:e', 4, 5);
      await expectRefused('h:e', { epoch: 'nope', offset: 1 }, { epoch, offset: 5 });
      // The right epoch, from the same place, recovers.
      const later = await rt.connect('carol');
      const log = record(later);
      const reply = await rejoin(later, 'h:e', { epoch, offset: 1 });
      expect(reply.data).toMatchObject({ epoch, offset: 6, recovered: true });
      expect(offsetsOf(log)).toStrictEqual(range(2, 6));
    });

    it('when the history was trimmed (maxCount), and sends none of what is kept', async () => {
      // recoveryLimit above the 60 missed, so that only the trimming refuses.
      const started = await startFixture({
        ...OPTIONS,
        history: { ...OPTIONS.history, recoveryLimit: 100 },
      });
      const { epoch } = await seenThenGone('h:t', 3, started);
      await emitRange('h:t', 4, 63, started); // 60 missed; 14..63 kept
      await expectRefused('h:t', { epoch, offset: 3 }, { epoch, offset: 63 }, started);
      // 64 came live since: 15..64 are kept. From 14, every missed one is: recovered.
      const later = await started.connect('carol');
      const log = record(later);
      const reply = await rejoin(later, 'h:t', { epoch, offset: 14 });
      expect(reply.data).toMatchObject({ epoch, offset: 64, recovered: true });
      expect(offsetsOf(log)).toStrictEqual(range(15, 64));
    });

    it('when more than recoveryLimit were missed', async () => {
      const { epoch } = await seenThenGone('h:l', 3);
      await emitRange('h:l', 4, 33); // 30 missed, all kept; the limit is 20
      await expectRefused('h:l', { epoch, offset: 3 }, { epoch, offset: 33 });
      // Exactly the limit (20 after offset 14: 15..34) is recovered.
      const later = await rt.connect('carol');
      const log = record(later);
      const reply = await rejoin(later, 'h:l', { epoch, offset: 14 });
      expect(reply.data).toMatchObject({ epoch, offset: 34, recovered: true });
      expect(offsetsOf(log)).toStrictEqual(range(15, 34));
    });

    it('when a room without history (the default) had messages missed; true when none were', async () => {
      const { epoch } = await seenThenGone('plain', 2);
      await emitRange('plain', 3, 5);
      await expectRefused('plain', { epoch, offset: 2 }, { epoch, offset: 5 });

      // Nothing missed: recovered, history or not.
      const upToDate = await rt.connect('carol');
      const reply = await rejoin(upToDate, 'plain', { epoch, offset: 6 });
      expect(reply.data).toStrictEqual({
        ...joinReply({ name: 'plain', size: 2, created: expect.any(Number), persistent: false }, 6),
        epoch,
        recovered: true,
      });
      expect(await leftovers(upToDate)).toStrictEqual([]);
      await rt.hub.to('plain').emit('m', 7);
      expect(await upToDate.next(eventIs('m'))).toStrictEqual(message('plain', 7, epoch));
    });

    it('after an engine restart: the epoch changed', async () => {
      const first = await startFixture(OPTIONS);
      const { epoch } = await seenThenGone('h:r', 2, first);
      rt.harness.forget(first.app);
      await first.app.close();

      // A new app, a new memory engine: the room is numbered anew, in another epoch,
      // even where its offsets reach the old ones.
      const second = await startFixture(OPTIONS);
      await emitRange('h:r', 1, 3, second);
      const now = await second.hub.roomHistory('h:r');
      expect(now.epoch).not.toBe(epoch);
      await expectRefused('h:r', { epoch, offset: 2 }, { epoch: now.epoch, offset: 3 }, second);
    });

    it('when the missed messages are older than maxAge', async () => {
      const started = await startFixture({
        authenticate: userFromQuery,
        history: { rooms: { 'a:*': { maxCount: 50, maxAge: 200 } } },
      });
      const { epoch } = await seenThenGone('a:1', 1, started);
      await emitRange('a:1', 2, 3, started);
      await new Promise((resolve) => setTimeout(resolve, 300)); // 2 and 3 are past their age
      await expectRefused('a:1', { epoch, offset: 1 }, { epoch, offset: 3 }, started);
      // Fresh ones are kept: a client that saw 4 recovers 5 and 6.
      await emitRange('a:1', 5, 6, started);
      const later = await started.connect('carol');
      const log = record(later);
      const reply = await rejoin(later, 'a:1', { epoch, offset: 4 });
      expect(reply.data).toMatchObject({ epoch, offset: 6, recovered: true });
      expect(offsetsOf(log)).toStrictEqual([5, 6]);
    });
  });

  describe('hub.roomHistory', () => {
    it('gives the kept messages (offset, event, data), oldest first; with since, those after it', async () => {
      await rt.hub.to('h:hist').emit('m', 1);
      await rt.hub.to('h:hist').emit('m', { two: 2 });
      await rt.hub.to('h:hist').emit('ping');
      await rt.hub.to('h:hist').emitBatch([{ event: 'x', data: 4 }]);
      await rt.hub.to(['h:hist', 'h:other']).emit('not-kept', 0);
      const all = await rt.hub.roomHistory('h:hist');
      const { epoch } = all;
      expect(epoch).toStrictEqual(expect.any(String));
      expect(all).toEqual({
        epoch,
        offset: 4,
        recovered: true,
        messages: [
          { offset: 1, event: 'm', data: 1 },
          { offset: 2, event: 'm', data: { two: 2 } },
          { offset: 3, event: 'ping' },
          { offset: 4, event: 'rt:batch', data: [{ event: 'x', data: 4 }] },
        ],
      });

      expect(await rt.hub.roomHistory('h:hist', { since: { epoch, offset: 2 } })).toEqual({
        epoch,
        offset: 4,
        recovered: true,
        messages: all.messages.slice(2),
      });
      expect(await rt.hub.roomHistory('h:hist', { since: { epoch, offset: 4 } })).toEqual({
        epoch,
        offset: 4,
        recovered: true,
        messages: [],
      });
      expect(await rt.hub.roomHistory('h:hist', { since: { epoch: 'nope', offset: 2 } })).toEqual({
        epoch,
        offset: 4,
        recovered: false,
        messages: [],
      });
    });

    it('gives at most limit (default recoveryLimit) of the last ones; none for a room without history', async () => {
      await emitRange('h:many', 1, 30);
      const last = await rt.hub.roomHistory('h:many');
      expect(last.messages.map((m) => m.offset)).toStrictEqual(range(11, 30));
      const five = await rt.hub.roomHistory('h:many', { limit: 5 });
      expect(five.messages.map((m) => m.offset)).toStrictEqual(range(26, 30));

      await emitRange('plain', 1, 3);
      const plain = await rt.hub.roomHistory('plain');
      expect(plain).toStrictEqual({
        epoch: expect.any(String),
        offset: 3,
        recovered: true,
        messages: [],
      });
    });
  });

  describe('bad since', () => {
    it.each<[string, unknown]>([
      ['a string', 'k3Jx:3'],
      ['a number', 3],
      ['null', null],
      ['an array', [{ epoch: 'e', offset: 1 }]],
      ['without epoch', { offset: 1 }],
      ['with an epoch that is not a string', { epoch: 5, offset: 1 }],
      ['without offset', { epoch: 'e' }],
      ['with a negative offset', { epoch: 'e', offset: -1 }],
      ['with a fractional offset', { epoch: 'e', offset: 1.5 }],
      ['with an offset that is a string', { epoch: 'e', offset: '3' }],
    ])('since %s is INVALID_DATA, and the connection joins nothing', async (_name, since) => {
      await rt.hub.to('h:bad').emit('m', 1);
      const client = await rt.connect('alice');
      const reply = await rejoin(client, 'h:bad', since);
      expect(reply).toStrictEqual(errorReply(reply.id!, 'INVALID_DATA'));
      expect(rt.hub.connectionRooms(client.connectionId)).toStrictEqual([]);
      expect(await rt.hub.roomInfo('h:bad')).toBeUndefined();
      expect(await leftovers(client)).toStrictEqual([]);
      await expectAlive(client);
    });
  });

  describe('latest on join', () => {
    it('gives a new member the last kept messages first, then live ones, with no gap', async () => {
      await emitRange('h:latest', 1, 8);
      const client = await rt.connect('late');
      const log = record(client);
      const reply = await client.request('rt:join', { room: 'h:latest', latest: 3 });
      await rt.hub.to('h:latest').emit('m', 9);
      await until(() => offsetsOf(log).length === 4);
      expect(offsetsOf(log)).toEqual([6, 7, 8, 9]);
      expect(reply.data).toMatchObject({ offset: 8 });
      expect(reply.data.recovered).toBeUndefined();
    });

    it('refuses a latest that is not an integer from 0 to recoveryLimit', async () => {
      const client = await rt.connect('bad');
      for (const latest of [-1, 1.5, 'x', 21]) {
        expect((await client.request('rt:join', { room: 'h:x', latest })).error?.code).toBe(
          'INVALID_DATA',
        );
      }
      await expectAlive(client);
    });
  });
});

describe('history options at start-up', () => {
  const harness = withHarness();

  it.each<[string, unknown, string]>([
    ['a negative maxCount', { maxCount: -1 }, 'history.maxCount'],
    [
      'a room pattern with a maxCount not a number',
      { rooms: { x: { maxCount: 'a' } } },
      'history.rooms["x"].maxCount',
    ],
  ])('refuse %s, naming the option', async (_name, history, option) => {
    const options = { authenticate: userFromQuery, history } as RealtimeModuleOptions;
    const failure = harness.start(options, {}, { logger: false });
    await expect(failure).rejects.toBeInstanceOf(RealtimeConfigError);
    await expect(failure).rejects.toMatchObject({ option });
    await expect(failure).rejects.toThrow(option);
  });
});

describe('regressions', () => {
  const rt = appForEachTest(OPTIONS);
  beforeEach(() => {
    current = rt;
  });
  const patterned = appForEachTest({
    authenticate: userFromQuery,
    history: { rooms: { 'x:*': { maxCount: 5, maxAge: undefined } } },
  });

  it('a pattern that leaves maxAge undefined keeps the default age, not nothing', async () => {
    await patterned.hub.to('x:1').emit('m', 1);
    await patterned.hub.to('x:1').emit('m', 2);
    const { messages } = await patterned.hub.roomHistory('x:1');
    expect(messages.map((m) => m.data)).toEqual([1, 2]);
  });

  it('refuses a second recovering join of a room while the first one runs', async () => {
    const client = await patterned.connect('u1');
    const hub = patterned.hub;
    const connection = hub.connections.get(client.connectionId)!;
    const { epoch } = await hub.join(connection, 'x:2');
    await hub.leave(connection, 'x:2');
    const first = hub.join(connection, 'x:2', { since: { epoch, offset: 0 } });
    await expect(
      hub.join(connection, 'x:2', { since: { epoch, offset: 0 } }),
    ).rejects.toMatchObject({
      code: 'INVALID_DATA',
    });
    await expect(first).resolves.toMatchObject({ recovered: true });
  });

  it('a member re-joining with a stale since keeps getting live messages', async () => {
    const member = await rt.connect('m');
    await join(member, 'r1');
    const connection = rt.hub.connections.get(member.connectionId)!;
    const joining = rt.hub.join(connection, 'r1', { since: { epoch: 'stale', offset: 0 } });
    await rt.hub.to('r1').emit('x', 1);
    expect(await joining).toMatchObject({ recovered: false });
    expect((await member.next(eventIs('x'))).data).toBe(1);
  });

  it('a join that cannot recover still passes on the live messages that came meanwhile', async () => {
    const other = await rt.connect('o');
    await join(other, 'r2');
    const late = await rt.connect('l');
    const connection = rt.hub.connections.get(late.connectionId)!;
    const joining = rt.hub.join(connection, 'r2', { since: { epoch: 'stale', offset: 0 } });
    await rt.hub.to('r2').emit('x', 2);
    expect(await joining).toMatchObject({ recovered: false });
    expect((await late.next(eventIs('x'))).data).toBe(2);
  });
});
