import { describe, expect, it } from 'vitest';
import { userFromQuery } from '../../support/fixtures.js';
import { ENGINES, engineFixture } from '../../support/engines.js';
import type { Frame, TestClient } from '../../support/ws-client.js';

// The heavy room: every member follows the room's presence, and they all join at once
// (the join storm). Each follower is told each member once: in its join reply or in a
// diff after it, never both (its own entry aside), in at most one diff per
// batchInterval (docs/protocol.md, "Following a room's members", "The bound").

const BATCH = 50;
const MEMBERS = 300;
const ROOM = 'arena';

/** What one follower received, counted as the frames arrive, and the members it knows. */
interface Follower {
  readonly userId: string;
  readonly client: TestClient;
  readonly view: Map<string, unknown>;
  /** Members its reply listed. */
  listed: number;
  /** `joined` entries of its diffs naming a member it knew already. */
  repeated: string[];
  diffs: number;
  diffBytes: number;
  replyBytes: number;
  /** rt:presence frames (watchers' news: none here). */
  presenceFrames: number;
}

/** Counts what `client` receives from now on, applying its reply and diffs to its view. */
function followerOf(user: string, client: TestClient, changed: () => void): Follower {
  const follower: Follower = {
    userId: user,
    client,
    view: new Map(),
    listed: 0,
    repeated: [],
    diffs: 0,
    diffBytes: 0,
    replyBytes: 0,
    presenceFrames: 0,
  };
  client.socket.on('message', (raw: Buffer) => {
    const frame = JSON.parse(raw.toString()) as Frame;
    if (frame.event === 'rt:reply' && frame.data?.members) {
      follower.replyBytes += raw.length;
      follower.listed = frame.data.members.length;
      for (const state of frame.data.members) follower.view.set(state.userId, state);
    } else if (frame.event === 'rt:room-presence') {
      follower.diffs++;
      follower.diffBytes += raw.length;
      for (const state of frame.data.joined) {
        if (follower.view.has(state.userId)) follower.repeated.push(state.userId);
        follower.view.set(state.userId, state);
      }
      for (const state of frame.data.changed) follower.view.set(state.userId, state);
      for (const userId of frame.data.left) follower.view.delete(userId);
    } else if (frame.event === 'rt:presence') {
      follower.presenceFrames++;
    } else return;
    changed();
  });
  return follower;
}

describe.each(ENGINES)('on $name', (engine) => {
  const rt = engineFixture(engine, {
    authenticate: userFromQuery,
    presence: { batchInterval: BATCH },
  });

  it(`${MEMBERS} followers joining at once: one reply each, one diff per batchInterval, every member once`, async () => {
    const ids = Array.from({ length: MEMBERS }, (_, i) => `m${String(i).padStart(3, '0')}`);
    const clients = await Promise.all(ids.map((id) => rt.connect(id)));
    // allSee(users) resolves once every follower's view holds as many members as `users`.
    let wanted: string[] = ids;
    const settlers: (() => void)[] = [];
    const check = () => {
      if (followers.every((f) => f.view.size === wanted.length)) settlers.shift()?.();
    };
    const followers = ids.map((id, i) => followerOf(id, clients[i]!, check));
    const allSee = (users: string[]) =>
      new Promise<void>((resolve) => {
        wanted = users;
        settlers.push(resolve);
        check();
      });

    const start = Date.now();
    const complete = allSee(ids);
    const replies = await Promise.all(
      clients.map((client) => client.request('rt:join', { room: ROOM, presence: true })),
    );
    expect(replies.filter((reply) => reply.error !== undefined)).toStrictEqual([]);
    await complete;
    const elapsed = Date.now() - start;
    // One more join, told after every earlier diff: once all have it, nothing is late.
    const last = await rt.connect('zz');
    const lastOne = followerOf('zz', last, check);
    followers.push(lastOne);
    const everyone = [...ids, 'zz'];
    const done = allSee(everyone);
    expect((await last.request('rt:join', { room: ROOM, presence: true })).error).toBeUndefined();
    await done;

    for (const follower of followers) {
      expect([...follower.view.keys()].toSorted()).toStrictEqual(everyone);
      expect([...follower.view.values()].every((s: any) => s.status === 'online' && !s.meta)).toBe(
        true,
      );
      // Told each member once: a diff repeats no one its reply listed, but the follower.
      expect(follower.repeated.filter((userId) => userId !== follower.userId)).toStrictEqual([]);
      expect(follower.presenceFrames).toBe(0);
    }
    for (const follower of followers.slice(0, MEMBERS)) {
      // The storm's diffs, and the one of the last join.
      expect(follower.diffs).toBeLessThanOrEqual(Math.ceil(elapsed / BATCH) + 2);
    }
    const mean = (pick: (f: Follower) => number) =>
      Math.round(followers.reduce((sum, f) => sum + pick(f), 0) / followers.length);
    console.log(
      `heavy room on ${engine.name}: ${MEMBERS} followers joined at once; views complete ` +
        `${elapsed} ms after the first join (batchInterval ${BATCH} ms, bound ` +
        `${Math.ceil(elapsed / BATCH) + 2} diffs); per follower: diffs max ` +
        `${Math.max(...followers.map((f) => f.diffs))}, mean ${mean((f) => f.diffs)}; ` +
        `diff bytes mean ${mean((f) => f.diffBytes)}, reply bytes mean ${mean((f) => f.replyBytes)}, ` +
        `members listed in the reply mean ${mean((f) => f.listed)}`,
    );
  }, 60_000);
});
