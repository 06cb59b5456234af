import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startApp, type TestApp } from '../support/app.js';
import { TestClient, type Frame } from '../support/ws-client.js';

/** The documented error frame of a frame without a (valid) id. */
function errorFrame(code: string, event?: string): Frame {
  return {
    event: 'rt:error',
    data: { code, message: expect.any(String), ...(event === undefined ? {} : { event }) },
  };
}

/** The documented error reply of a frame with an id. */
function errorReply(id: string | number, code: string): Frame {
  return { event: 'rt:reply', id, error: { code, message: expect.any(String) } };
}

const isAnswer = (f: Frame) => f.event === 'rt:error' || f.event === 'rt:reply';

describe('bad input', () => {
  let app: TestApp;
  let client: TestClient;
  const clients: TestClient[] = [];
  let aliveId = 0;

  async function connect(): Promise<TestClient> {
    const opened = await TestClient.connect(app.wsUrl);
    clients.push(opened);
    return opened;
  }

  /**
   * Proves the connection is still served: a good rt:join gets its reply, and no
   * other answer (a second error, a stray reply) has arrived before it.
   */
  async function expectAlive(target = client): Promise<void> {
    const room = `alive-${++aliveId}`;
    const reply = await target.request('rt:join', { room });
    expect(reply).toEqual({
      event: 'rt:reply',
      id: reply.id,
      data: expect.objectContaining({ name: room, size: 1 }),
    });
    expect(target.frames.filter(isAnswer)).toEqual([]);
  }

  /** Sends one raw frame and returns the single answer it gets. */
  async function answerTo(frame: unknown): Promise<Frame> {
    client.send(frame);
    return client.next(isAnswer);
  }

  beforeAll(async () => {
    app = await startApp();
  });

  beforeEach(async () => {
    client = await connect();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  afterAll(() => app.close());

  describe('frames that are not JSON objects', () => {
    it.each([
      ['malformed JSON', '{"event":'],
      ['a JSON array', '[{"event":"rt:join","data":{"room":"a"},"id":1}]'],
      ['a JSON string', '"rt:join"'],
      ['null', 'null'],
      ['a number', '42'],
      ['an empty text frame', ''],
      ['true', 'true'],
    ])('%s -> rt:error BAD_FRAME', async (_name, text) => {
      expect(await answerTo(text)).toEqual(errorFrame('BAD_FRAME'));
      await expectAlive();
    });

    it('a binary frame -> rt:error BAD_FRAME', async () => {
      client.socket.send(Buffer.from(JSON.stringify({ event: 'rt:join', data: { room: 'b' } })), {
        binary: true,
      });
      expect(await client.next(isAnswer)).toEqual(errorFrame('BAD_FRAME'));
      await expectAlive();
    });

    it('a binary frame with an id -> still an rt:error BAD_FRAME, no reply', async () => {
      client.socket.send(
        Buffer.from(JSON.stringify({ event: 'rt:join', data: { room: 'b' }, id: 99 })),
        { binary: true },
      );
      expect(await client.next(isAnswer)).toEqual(errorFrame('BAD_FRAME'));
      await expectAlive();
    });
  });

  describe('bad event', () => {
    const badEvents: [string, Record<string, unknown>][] = [
      ['event missing', { data: { room: 'a' } }],
      ['event a number', { event: 7, data: { room: 'a' } }],
      ['event null', { event: null }],
      ['event an object', { event: { name: 'rt:join' } }],
      ['event empty', { event: '', data: { room: 'a' } }],
      ['event of 201 characters', { event: 'e'.repeat(201) }],
    ];

    it.each(badEvents)('%s -> rt:error BAD_FRAME', async (_name, frame) => {
      expect(await answerTo(frame)).toEqual(errorFrame('BAD_FRAME'));
      await expectAlive();
    });

    it.each(badEvents)('%s, with an integer id -> rt:reply BAD_FRAME', async (_name, frame) => {
      expect(await answerTo({ ...frame, id: 501 })).toEqual(errorReply(501, 'BAD_FRAME'));
      await expectAlive();
    });

    it.each(badEvents)('%s, with a string id -> rt:reply BAD_FRAME', async (_name, frame) => {
      expect(await answerTo({ ...frame, id: 'req-1' })).toEqual(errorReply('req-1', 'BAD_FRAME'));
      await expectAlive();
    });

    it('an event of exactly 200 characters is accepted (and unknown)', async () => {
      const event = 'e'.repeat(200);
      expect(await answerTo({ event })).toEqual(errorFrame('UNKNOWN_EVENT', event));
      await expectAlive();
    });
  });

  describe('bad id', () => {
    it.each([
      ['an object', { n: 1 }],
      ['an array', [1]],
      ['a float', 1.5],
      ['an unsafe integer', 2 ** 53],
      ['a boolean', true],
      ['null', null],
      ['an empty string', ''],
      ['a string of 65 characters', 'x'.repeat(65)],
    ])('id %s -> rt:error BAD_FRAME, no reply', async (_name, id) => {
      expect(await answerTo({ event: 'rt:join', data: { room: 'bad-id' }, id })).toEqual({
        event: 'rt:error',
        // data.event is checked by the next test.
        data: expect.objectContaining({ code: 'BAD_FRAME', message: expect.any(String) }),
      });
      await expectAlive();
      // The frame was refused as a whole: it did not join the room.
      expect((await client.request('rt:room', { room: 'bad-id' })).error?.code).toBe('NOT_IN_ROOM');
    });

    it('names the event in data.event when only the id is wrong', async () => {
      // docs/protocol.md: "data.event names the event of the failed frame when it could be read."
      expect(await answerTo({ event: 'rt:join', data: { room: 'a' }, id: 1.5 })).toEqual(
        errorFrame('BAD_FRAME', 'rt:join'),
      );
      await expectAlive();
    });

    it('ids at the limits are accepted: a 64-character string, a negative safe integer, 0', async () => {
      for (const id of ['y'.repeat(64), -(2 ** 53 - 1), 0]) {
        expect(await answerTo({ event: 'rt:join', data: { room: 'limits' }, id })).toEqual({
          event: 'rt:reply',
          id,
          data: expect.objectContaining({ name: 'limits' }),
        });
      }
      await expectAlive();
    });
  });

  describe('unknown events', () => {
    it.each(['nope', 'rt:nope'])(
      '%s without id -> rt:error UNKNOWN_EVENT naming it',
      async (event) => {
        expect(await answerTo({ event, data: { x: 1 } })).toEqual(
          errorFrame('UNKNOWN_EVENT', event),
        );
        await expectAlive();
      },
    );

    it.each(['nope', 'rt:nope'])('%s with an id -> rt:reply UNKNOWN_EVENT', async (event) => {
      expect(await answerTo({ event, id: 77 })).toEqual(errorReply(77, 'UNKNOWN_EVENT'));
      await expectAlive();
    });

    it.each(['rt:reply', 'rt:error', 'rt:connected', 'rt:batch'])(
      'server-to-client event %s sent by a client -> UNKNOWN_EVENT',
      async (event) => {
        expect(await answerTo({ event, data: {} })).toEqual(errorFrame('UNKNOWN_EVENT', event));
        expect(await answerTo({ event, data: {}, id: 'u' })).toEqual(
          errorReply('u', 'UNKNOWN_EVENT'),
        );
        await expectAlive();
      },
    );
  });

  describe('rt:join data', () => {
    const cases: [string, unknown, string][] = [
      ['data missing', undefined, 'INVALID_DATA'],
      ['data null', null, 'INVALID_DATA'],
      ['data a string', 'lobby', 'INVALID_DATA'],
      ['data an array', ['lobby'], 'INVALID_DATA'],
      ['room missing', {}, 'ROOM_NAME_INVALID'],
      ['room a number', { room: 5 }, 'ROOM_NAME_INVALID'],
      ['room empty', { room: '' }, 'ROOM_NAME_INVALID'],
      ['room of 201 characters', { room: 'r'.repeat(201) }, 'ROOM_NAME_INVALID'],
      ['room with a control character', { room: 'a\u0007b' }, 'ROOM_NAME_INVALID'],
      ['room with DEL', { room: 'a\u007fb' }, 'ROOM_NAME_INVALID'],
      ['room with a NUL', { room: '\u0000' }, 'ROOM_NAME_INVALID'],
      ['room starting with rt:', { room: 'rt:x' }, 'ROOM_NAME_INVALID'],
    ];

    it.each(cases)('%s, with an id -> rt:reply %s', async (_name, data, code) => {
      expect(await answerTo({ event: 'rt:join', data, id: 5 })).toEqual(errorReply(5, code));
      await expectAlive();
    });

    it.each(cases)('%s, without id -> rt:error %s', async (_name, data, code) => {
      expect(await answerTo({ event: 'rt:join', data })).toEqual(errorFrame(code, 'rt:join'));
      await expectAlive();
    });

    it('a room of exactly 200 characters is accepted', async () => {
      const room = 'r'.repeat(200);
      expect((await client.request('rt:join', { room })).data).toMatchObject({ name: room });
      await expectAlive();
    });
  });

  describe('rt:publish data', () => {
    beforeEach(async () => {
      const joined = await client.request('rt:join', { room: 'pub' });
      if (joined.data?.name !== 'pub') throw new Error(`join failed: ${JSON.stringify(joined)}`);
    });

    it.each([
      ['event missing', { room: 'pub', data: 1 }],
      ['event a number', { room: 'pub', event: 3 }],
      ['event empty', { room: 'pub', event: '' }],
      ['event reserved rt:reply', { room: 'pub', event: 'rt:reply', data: 1 }],
      ['event reserved rt:x', { room: 'pub', event: 'rt:x' }],
      ['echo "yes"', { room: 'pub', event: 'chat', echo: 'yes' }],
      ['echo 1', { room: 'pub', event: 'chat', echo: 1 }],
    ])('%s -> INVALID_DATA', async (_name, data) => {
      expect(await answerTo({ event: 'rt:publish', data, id: 9 })).toEqual(
        errorReply(9, 'INVALID_DATA'),
      );
      expect(await answerTo({ event: 'rt:publish', data })).toEqual(
        errorFrame('INVALID_DATA', 'rt:publish'),
      );
      await expectAlive();
    });

    it('data not an object -> INVALID_DATA', async () => {
      expect(await answerTo({ event: 'rt:publish', data: 'pub', id: 9 })).toEqual(
        errorReply(9, 'INVALID_DATA'),
      );
      await expectAlive();
    });

    it('a bad room -> ROOM_NAME_INVALID', async () => {
      expect(
        await answerTo({ event: 'rt:publish', data: { room: '', event: 'chat' }, id: 9 }),
      ).toEqual(errorReply(9, 'ROOM_NAME_INVALID'));
      await expectAlive();
    });

    it('a room not joined -> NOT_IN_ROOM', async () => {
      const data = { room: 'elsewhere', event: 'chat', data: 1 };
      expect(await answerTo({ event: 'rt:publish', data, id: 10 })).toEqual(
        errorReply(10, 'NOT_IN_ROOM'),
      );
      expect(await answerTo({ event: 'rt:publish', data })).toEqual(
        errorFrame('NOT_IN_ROOM', 'rt:publish'),
      );
      await expectAlive();
    });

    it('a refused publish reaches no member', async () => {
      const member = await connect();
      await member.request('rt:join', { room: 'pub' });
      for (const data of [
        { room: 'pub', event: 'rt:reply', data: 1 },
        { room: 'pub', event: 'chat', echo: 'yes', data: 2 },
      ]) {
        expect((await answerTo({ event: 'rt:publish', data, id: 'p' })).error?.code).toBe(
          'INVALID_DATA',
        );
      }
      expect(await member.collect(() => true)).toEqual([]);
      // A good one does reach it.
      expect(
        await answerTo({
          event: 'rt:publish',
          data: { room: 'pub', event: 'chat', data: 3 },
          id: 1,
        }),
      ).toEqual({ event: 'rt:reply', id: 1, data: null });
      expect(await member.next()).toEqual({ event: 'chat', data: 3, room: 'pub' });
    });
  });

  describe('invalid UTF-8', () => {
    it('closes the connection with 1007, and a fresh connection still works', async () => {
      const frame = Buffer.concat([
        Buffer.from('{"event":"rt:join","data":{"room":"'),
        Buffer.from([0xff, 0xfe]),
        Buffer.from('"}}'),
      ]);
      client.socket.send(frame, { binary: false });
      expect(await client.closed).toBe(1007);
      const fresh = await connect();
      await expectAlive(fresh);
    });
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
          () => expect(client.frames.filter(isAnswer).length).toBeGreaterThanOrEqual(burst.length),
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
      await expectAlive();
      await expectAlive(bystander);
      const fresh = await connect();
      await expectAlive(fresh);
    });
  });
});

/** An error's code, and its event unless it is BAD_FRAME (where data.event may be absent). */
function describeError(code: string, event: unknown): string {
  return code === 'BAD_FRAME' ? code : `${code} ${JSON.stringify(event)}`;
}

/** A small deterministic PRNG (mulberry32), so a failing burst can be replayed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
