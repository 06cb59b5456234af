import { randomBytes } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { appForAllTests, errorReply, expectAlive } from '../../support/fixtures.js';
import { seededRandom } from '../../support/random.js';
import { isAnswer, type TestClient } from '../../support/ws-client.js';

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('bad input', () => {
    // The parser is under test here, not the rate limit: 2,000 frames go out at once.
    const { connect } = appForAllTests({ rateLimit: false });
    let client: TestClient;

    beforeEach(async () => {
      client = await connect();
    });

    describe('a burst of garbage', () => {
      it('answers each of 2000 garbage frames exactly once and keeps serving everyone', async () => {
        const bystander = await connect();
        const random = seededRandom(20261125);
        const burst = makeGarbage(2000, random);

        // The bystander keeps making requests while the burst is handled.
        let bystanderReplies = 0;
        let bystanderError: unknown;
        const loop = { stop: false };
        const bystanderLoop = (async () => {
          while (!loop.stop) {
            const room = `bystander-${bystanderReplies % 5}`;
            const reply = await bystander.request('rt:join', { room });
            if (reply.data?.name !== room) throw new Error(`bad reply ${JSON.stringify(reply)}`);
            bystanderReplies++;
          }
        })().catch((error: unknown) => {
          bystanderError = error;
        });

        try {
          for (const { text } of burst) client.send(text);
          await vi.waitFor(
            () =>
              expect(client.frames.filter(isAnswer).length).toBeGreaterThanOrEqual(burst.length),
            { timeout: 15_000, interval: 25 },
          );
        } finally {
          loop.stop = true;
          await bystanderLoop;
        }
        expect(bystanderError).toBeUndefined();
        expect(bystanderReplies).toBeGreaterThan(0);
        // Let anything extra arrive before counting.
        const answers = await client.collect(isAnswer, 200);
        expect(answers).toHaveLength(burst.length);
        expect(client.frames.filter((f) => !isAnswer(f))).toEqual([]);

        // Each answer is the one its frame called for.
        const expectedErrors = burst
          .filter((g) => g.expected.id === undefined)
          .map((g) => describeError(g.expected.code, g.expected.event))
          .toSorted();
        const gotErrors = answers
          .filter((f) => f.event === 'rt:error')
          .map((f) => describeError(f.data.code, f.data.event))
          .toSorted();
        expect(gotErrors).toEqual(expectedErrors);

        const expectedReplies = burst.filter((g) => g.expected.id !== undefined);
        const replies = answers.filter((f) => f.event === 'rt:reply');
        expect(replies).toHaveLength(expectedReplies.length);
        const repliesById = new Map(replies.map((f) => [f.id, f]));
        expect(repliesById.size).toBe(replies.length);
        for (const { expected, text } of expectedReplies) {
          expect({ text, reply: repliesById.get(expected.id) }).toEqual({
            text,
            reply: errorReply(expected.id!, expected.code),
          });
        }

        client.frames.splice(0);
        await expectAlive(client);
        await expectAlive(bystander);
        const fresh = await connect();
        await expectAlive(fresh);
      });
    });
  });
});

/** An error's code, and its event unless it is BAD_FRAME (where data.event may be absent). */
function describeError(code: string, event: unknown): string {
  return code === 'BAD_FRAME' ? code : `${code} ${JSON.stringify(event)}`;
}

interface Garbage {
  readonly text: string;
  readonly expected: { code: string; id?: string | number; event?: string };
}

/**
 * Random garbage and what docs/protocol.md says each must get: BAD_FRAME, or
 * UNKNOWN_EVENT for a well-formed frame whose event does not exist; an error reply
 * when the frame carries a valid id, an rt:error otherwise. Valid ids are unique.
 */
function makeGarbage(count: number, random: () => number): Garbage[] {
  const int = (n: number) => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  let nextId = 1;

  const randomText = (max: number): string => {
    let text = '';
    const length = int(max);
    for (let i = 0; i < length; i++) {
      const kind = int(4);
      let code: number;
      if (kind === 0) code = 0x20 + int(0x5f);
      else if (kind === 1) code = int(0x20);
      else if (kind === 2) code = 0x80 + int(0xd800 - 0x80);
      else code = 0xe000 + int(0x10ffff - 0xe000);
      text += String.fromCodePoint(code);
    }
    return text;
  };

  const randomValue = (depth: number): unknown => {
    switch (int(depth > 3 ? 5 : 7)) {
      case 0:
        return null;
      case 1:
        return random() < 0.5;
      case 2:
        return pick([0, -1, 1.5, 1e308, -0, int(1e9), 2 ** 53 + 2]);
      case 3:
        return randomText(20);
      case 4:
        return pick(['', 'event', 'id', '{', 'rt:join', '\u0000']);
      case 5:
        return Array.from({ length: int(4) }, () => randomValue(depth + 1));
      default: {
        const object: Record<string, unknown> = {};
        for (let i = int(4); i > 0; i--) object[randomText(8)] = randomValue(depth + 1);
        return object;
      }
    }
  };

  const randomId = (): unknown => {
    switch (int(10)) {
      case 0:
      case 1:
      case 2:
        return undefined;
      case 3:
      case 4:
        return nextId++;
      case 5:
      case 6:
        return `g-${nextId++}`;
      case 7:
        return pick([0.5 + int(100), '', 'z'.repeat(65 + int(50))]);
      case 8:
        return pick([null, true, false, 2 ** 53, -(2 ** 60), Number.NaN]);
      default:
        return pick([[nextId++], { id: nextId++ }]);
    }
  };

  const randomEvent = (): unknown => {
    switch (int(10)) {
      case 0:
        return undefined;
      case 1:
        return pick(['', 'x'.repeat(201 + int(100))]);
      case 2:
        return randomValue(2);
      case 3:
        return `rt:garbage-${int(1000)}`;
      case 4:
        return 'rt:join';
      default:
        // A well-formed event no one handles (no gateway in this app).
        return `garbage-${randomText(10)}`.slice(0, 200);
    }
  };

  const items: Garbage[] = [];
  for (let i = 0; i < count; i++) {
    const kind = int(10);
    let text: string;
    if (kind < 2) {
      text = randomText(60);
    } else if (kind < 3) {
      // Random bytes, each read as one character, so that the frame stays valid UTF-8.
      text = randomBytes(1 + int(80)).toString('latin1');
    } else if (kind < 5) {
      text = JSON.stringify(randomValue(0)) ?? 'undefined';
    } else if (kind < 6) {
      text = JSON.stringify(randomValue(0)).slice(0, int(30));
    } else {
      const frame = randomValue(1) as Record<string, unknown>;
      const object: Record<string, unknown> =
        typeof frame === 'object' && frame !== null && !Array.isArray(frame) ? frame : {};
      const event = randomEvent();
      if (event !== undefined) object.event = event;
      const id = randomId();
      if (id !== undefined) object.id = id;
      if (random() < 0.5) object.data = randomValue(1);
      text = JSON.stringify(object);
    }
    // What goes on the wire: a lone surrogate left by a cut becomes U+FFFD.
    text = Buffer.from(text).toString();
    items.push({ text, expected: expectedAnswer(text) });
  }
  return items;
}

/** docs/protocol.md, "Frames" and "Error codes", for a server with no handlers. */
function expectedAnswer(text: string): Garbage['expected'] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { code: 'BAD_FRAME' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { code: 'BAD_FRAME' };
  }
  const { event, id } = value as Record<string, unknown>;
  const validId =
    id === undefined ||
    (typeof id === 'string' && id.length >= 1 && id.length <= 64) ||
    Number.isSafeInteger(id);
  if (!validId) return { code: 'BAD_FRAME' };
  const replyId = id as string | number | undefined;
  if (typeof event !== 'string' || event.length === 0 || event.length > 200) {
    return { code: 'BAD_FRAME', id: replyId };
  }
  if (event === 'rt:join') {
    // Garbage data for a built-in: never a good room, so always an error.
    const data = (value as Record<string, unknown>).data;
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      return { code: 'INVALID_DATA', id: replyId, event };
    }
    const { room } = data as Record<string, unknown>;
    if (
      typeof room === 'string' &&
      room.length > 0 &&
      room.length <= 200 &&
      // oxlint-disable-next-line no-control-regex
      !/[\u0000-\u001f\u007f]/.test(room) &&
      !room.startsWith('rt:')
    ) {
      throw new Error(`the generator made a good rt:join: ${text}`);
    }
    return { code: 'ROOM_NAME_INVALID', id: replyId, event };
  }
  if (['rt:leave', 'rt:publish', 'rt:room'].includes(event)) {
    throw new Error(`the generator made a built-in event: ${text}`);
  }
  return { code: 'UNKNOWN_EVENT', id: replyId, event };
}
