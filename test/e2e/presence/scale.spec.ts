import { describe, expect, it } from 'vitest';
import { roomChannel, roomPresenceChannel, userChannel } from '../../../lib/core/channels.js';
import { PresenceService } from '../../../lib/index.js';
import { appForEachTest, join, until, userFromQuery } from '../../support/fixtures.js';
import { eventIs, type Frame, type TestClient } from '../../support/ws-client.js';
import { sleep } from '../../support/presence.js';

// Room presence under stress: a connection that dies without closing, and the bound
// on rt:room-presence frames when 1,000 users join a room within about a second
// (docs/protocol.md, "Following a room's members", "The bound").

const isDiff = eventIs('rt:room-presence');

/** A room diff that names user `dead` (joined or left). */
const aboutDead = (frame: Frame) => isDiff(frame) && JSON.stringify(frame.data).includes('"dead"');

/** rt:join with presence:true; fails the test on an error reply. */
async function follow(client: TestClient, room: string): Promise<any> {
  const reply = await client.request('rt:join', { room, presence: true });
  expect(reply.error).toBeUndefined();
  return reply.data;
}

describe('presence: a dead connection', () => {
  // Timeouts a loaded machine cannot outlast by accident: a client that answers is never
  // late by a second. How soon a dead one goes is measured (printed), never asserted.
  const PONG_TIMEOUT = 1_000;
  const BATCH = 50;
  const rt = appForEachTest({
    authenticate: userFromQuery,
    websocket: { pingInterval: 100, pongTimeout: PONG_TIMEOUT },
    presence: {
      timeout: 1_500,
      heartbeatInterval: 100,
      offlineDelay: 0,
      cleanupInterval: 20,
      batchInterval: BATCH,
    },
  });

  it('is removed: followers get left, watchers offline, within timeout; the hub forgets it', async () => {
    const { hub } = rt;
    const follower = await rt.connect('f');
    const watcher = await rt.connect('w');
    await follow(follower, 'lobby');
    const watched = await watcher.request('rt:watch', { users: ['dead'] });
    expect(watched.data).toStrictEqual({
      statuses: [{ userId: 'dead', status: 'offline', meta: null, since: null }],
    });

    // autoPong off: the client answers pings by hand while `answering`, then goes silent.
    const dead = await rt.harness.open(`${rt.app.wsUrl}?user=dead`, { autoPong: false });
    let answering = true;
    let lastPong = Date.now();
    let pongs = 0;
    dead.socket.on('ping', () => {
      if (!answering) return;
      dead.socket.pong();
      lastPong = Date.now();
      pongs++;
    });
    dead.connected = await dead.next(eventIs('rt:connected'));
    const joined = await follow(dead, 'lobby');
    expect(joined.members.map((m: any) => m.userId)).toStrictEqual(['f', 'dead']);
    const connection = hub.connections.get(dead.connectionId)!;
    expect(connection).toBeDefined();
    // (The follower's own join may come in the same diff.)
    expect((await follower.next(aboutDead, 10_000)).data.joined).toContainEqual({
      userId: 'dead',
      status: 'online',
      meta: null,
      since: expect.any(Number),
    });
    expect((await watcher.next(eventIs('rt:presence'), 10_000)).data.status).toBe('online');
    // Alive through a few heartbeats while answering.
    const answered = pongs;
    await until(() => pongs >= answered + 3, 10_000);
    expect(hub.connections.has(connection)).toBe(true);
    answering = false;

    const left = await follower.next(aboutDead, 10_000);
    const leftAfter = Date.now() - lastPong;
    expect(left).toStrictEqual({
      event: 'rt:room-presence',
      room: 'lobby',
      data: { joined: [], left: ['dead'], changed: [] },
    });
    const offline = await watcher.next(eventIs('rt:presence'), 10_000);
    const offlineAfter = Date.now() - lastPong;
    expect(offline.data).toStrictEqual({
      userId: 'dead',
      status: 'offline',
      meta: null,
      since: null,
    });
    console.log(
      `dead connection: left ${leftAfter} ms, offline ${offlineAfter} ms after its last pong`,
    );
    expect(await dead.closed).toBe(1006);

    // No trace: not a connection, not a member, not a subscriber, offline.
    expect(hub.connections.get(dead.connectionId)).toBeUndefined();
    expect(hub.connections.has(connection)).toBe(false);
    expect(hub.connections.listByUser('dead')).toStrictEqual([]);
    expect(connection.rooms.size).toBe(0);
    expect((await hub.roomMembers('lobby')).map((m) => m.connectionId)).toStrictEqual([
      follower.connectionId,
    ]);
    expect(await hub.roomUsers('lobby')).toStrictEqual(['f']);
    for (const channel of [roomChannel('lobby'), roomPresenceChannel('lobby'), userChannel('dead')])
      expect([...(hub.connections.subscribers(channel) ?? [])]).not.toContain(connection);
    const presence = rt.app.app.get(PresenceService);
    expect(await presence.getStatus('dead')).toStrictEqual({
      userId: 'dead',
      status: 'offline',
      meta: null,
      since: null,
    });
    expect((await follower.request('rt:members', { room: 'lobby' })).data.members).toStrictEqual([
      { userId: 'f', status: 'online', meta: null, since: expect.any(Number) },
    ]);
  });
});

describe('presence: the bound on room diffs', () => {
  const BATCH = 50;
  const MEMBERS = 1_000;
  const OBSERVERS = 3;
  const rt = appForEachTest({
    authenticate: userFromQuery,
    presence: { offlineDelay: 200, cleanupInterval: 20, batchInterval: BATCH },
  });

  it('1,000 users joining within a second cost each follower one frame per batchInterval', async () => {
    const room = 'arena';
    const observers: TestClient[] = [];
    for (let i = 1; i <= OBSERVERS; i++) {
      const observer = await rt.connect(`obs${i}`);
      await follow(observer, room);
      observers.push(observer);
    }
    // 1,000 real WebSocket members, connected (and online) before any of them joins.
    const ids = Array.from({ length: MEMBERS }, (_, i) => `m${String(i).padStart(4, '0')}`);
    const members: TestClient[] = [];
    for (let i = 0; i < MEMBERS; i += 100) {
      members.push(...(await Promise.all(ids.slice(i, i + 100).map((id) => rt.connect(id)))));
    }
    await sleep(4 * BATCH);
    for (const observer of observers) observer.frames.splice(0);

    // Arrival time of every diff each observer receives from now on.
    const arrivals = observers.map((observer) => {
      const times: number[] = [];
      observer.socket.on('message', (raw) => {
        if ((JSON.parse(raw.toString()) as Frame).event === 'rt:room-presence')
          times.push(Date.now());
      });
      return times;
    });

    // 100 waves of 10 joins, 10 ms apart: about a second of joining.
    const start = Date.now();
    const replies: Promise<Frame>[] = [];
    for (let wave = 0; wave < MEMBERS / 10; wave++) {
      for (const member of members.slice(wave * 10, wave * 10 + 10))
        replies.push(member.request('rt:join', { room }));
      await sleep(10);
    }
    const answered = await Promise.all(replies);
    const joinMs = Date.now() - start;
    expect(answered.filter((reply) => reply.error !== undefined)).toStrictEqual([]);

    const joinedIn = (observer: TestClient) =>
      observer.frames.filter(isDiff).flatMap((frame) => frame.data.joined);
    await until(() => observers.every((o) => joinedIn(o).length >= MEMBERS), 10_000);
    await sleep(4 * BATCH); // duplicates or late frames would arrive now

    const bounds: number[] = [];
    for (const [i, observer] of observers.entries()) {
      const diffs = observer.frames.filter(isDiff);
      expect(diffs.every((frame) => frame.room === room)).toBe(true);
      expect(diffs.flatMap((frame) => frame.data.left)).toStrictEqual([]);
      expect(diffs.flatMap((frame) => frame.data.changed)).toStrictEqual([]);
      const joined = joinedIn(observer);
      // Each member exactly once, none lost, no one else.
      expect(joined.map((s: any) => s.userId).toSorted()).toStrictEqual(ids);
      expect(joined.every((s: any) => s.status === 'online' && s.meta === null)).toBe(true);
      const elapsed = arrivals[i]!.at(-1)! - start;
      const bound = Math.ceil(elapsed / BATCH) + 1;
      bounds.push(bound);
      expect(arrivals[i]).toHaveLength(diffs.length);
      expect(diffs.length).toBeLessThanOrEqual(bound);
      expect(diffs.length).toBeLessThan(MEMBERS / 10);
    }
    const frames = observers.map((o) => o.frames.filter(isDiff).length);
    const elapsed = Math.max(...arrivals.map((times) => times.at(-1)!)) - start;
    console.log(
      `bound: ${MEMBERS} members joined in ${joinMs} ms (batchInterval ${BATCH} ms); ` +
        `last diff ${elapsed} ms after the first join; ` +
        `frames per observer ${frames.join(', ')} (bound ceil(elapsed/batch)+1: ${bounds.join(', ')}); ` +
        `users per frame max ${Math.max(...observers[0]!.frames.filter(isDiff).map((f) => f.data.joined.length))}`,
    );

    const listed = await observers[0]!.request('rt:members', { room });
    expect(listed.data.members).toHaveLength(MEMBERS + OBSERVERS);
    expect((await rt.hub.roomInfo(room))?.size).toBe(MEMBERS + OBSERVERS);
    expect(await join(observers[1]!, room)).toMatchObject({ size: MEMBERS + OBSERVERS });
  }, 60_000);
});
