import { beforeEach, describe, expect, it } from 'vitest';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { appForAllTests, errorReply, expectAlive, leftovers } from '../../support/fixtures.js';
import { inRoom } from '../../support/room-frames.js';
import { isAnswer, type Frame, type TestClient } from '../../support/ws-client.js';

/** The documented error frame of a frame without a (valid) id. */
function errorFrame(code: string, event?: string): Frame {
  return {
    event: 'rt:error',
    data: { code, message: expect.any(String), ...(event === undefined ? {} : { event }) },
  };
}

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('bad input', () => {
    const { connect } = appForAllTests();
    let client: TestClient;

    /** Sends one raw frame and returns the single answer it gets. */
    async function answerTo(frame: unknown): Promise<Frame> {
      client.send(frame);
      return client.next(isAnswer);
    }

    beforeEach(async () => {
      client = await connect();
    });

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
        await expectAlive(client);
      });

      it('a binary frame -> rt:error BAD_FRAME', async () => {
        client.socket.send(Buffer.from(JSON.stringify({ event: 'rt:join', data: { room: 'b' } })), {
          binary: true,
        });
        expect(await client.next(isAnswer)).toEqual(errorFrame('BAD_FRAME'));
        await expectAlive(client);
      });

      it('a binary frame with an id -> still an rt:error BAD_FRAME, no reply', async () => {
        client.socket.send(
          Buffer.from(JSON.stringify({ event: 'rt:join', data: { room: 'b' }, id: 99 })),
          { binary: true },
        );
        expect(await client.next(isAnswer)).toEqual(errorFrame('BAD_FRAME'));
        await expectAlive(client);
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
        await expectAlive(client);
      });

      it.each(badEvents)('%s, with an integer id -> rt:reply BAD_FRAME', async (_name, frame) => {
        expect(await answerTo({ ...frame, id: 501 })).toEqual(errorReply(501, 'BAD_FRAME'));
        await expectAlive(client);
      });

      it.each(badEvents)('%s, with a string id -> rt:reply BAD_FRAME', async (_name, frame) => {
        expect(await answerTo({ ...frame, id: 'req-1' })).toEqual(errorReply('req-1', 'BAD_FRAME'));
        await expectAlive(client);
      });

      it('an event of exactly 200 characters is accepted (and unknown)', async () => {
        const event = 'e'.repeat(200);
        expect(await answerTo({ event })).toEqual(errorFrame('UNKNOWN_EVENT', event));
        await expectAlive(client);
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
        await expectAlive(client);
        // The frame was refused as a whole: it did not join the room.
        expect((await client.request('rt:room', { room: 'bad-id' })).error?.code).toBe(
          'NOT_IN_ROOM',
        );
      });

      it('names the event in data.event when only the id is wrong', async () => {
        // docs/protocol.md: "data.event names the event of the failed frame when it could be read."
        expect(await answerTo({ event: 'rt:join', data: { room: 'a' }, id: 1.5 })).toEqual(
          errorFrame('BAD_FRAME', 'rt:join'),
        );
        await expectAlive(client);
      });

      it('ids at the limits are accepted: a 64-character string, a negative safe integer, 0', async () => {
        for (const id of ['y'.repeat(64), -(2 ** 53 - 1), 0]) {
          expect(await answerTo({ event: 'rt:join', data: { room: 'limits' }, id })).toEqual({
            event: 'rt:reply',
            id,
            data: expect.objectContaining({ name: 'limits' }),
          });
        }
        await expectAlive(client);
      });
    });

    describe('unknown events', () => {
      it.each(['nope', 'rt:nope'])(
        '%s without id -> rt:error UNKNOWN_EVENT naming it',
        async (event) => {
          expect(await answerTo({ event, data: { x: 1 } })).toEqual(
            errorFrame('UNKNOWN_EVENT', event),
          );
          await expectAlive(client);
        },
      );

      it.each(['nope', 'rt:nope'])('%s with an id -> rt:reply UNKNOWN_EVENT', async (event) => {
        expect(await answerTo({ event, id: 77 })).toEqual(errorReply(77, 'UNKNOWN_EVENT'));
        await expectAlive(client);
      });

      it('an rt:reply that answers no server call is ignored, never answered', async () => {
        client.send({ event: 'rt:reply', data: {} });
        client.send({ event: 'rt:reply', data: {}, id: 'u' });
        client.send({ event: 'rt:reply', error: { code: 'X' }, id: 7 });
        expect(await leftovers(client)).toEqual([]);
        await expectAlive(client);
      });

      it.each(['rt:error', 'rt:connected', 'rt:batch', 'rt:room-presence'])(
        'server-to-client event %s sent by a client -> UNKNOWN_EVENT',
        async (event) => {
          expect(await answerTo({ event, data: {} })).toEqual(errorFrame('UNKNOWN_EVENT', event));
          expect(await answerTo({ event, data: {}, id: 'u' })).toEqual(
            errorReply('u', 'UNKNOWN_EVENT'),
          );
          await expectAlive(client);
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
        await expectAlive(client);
      });

      it.each(cases)('%s, without id -> rt:error %s', async (_name, data, code) => {
        expect(await answerTo({ event: 'rt:join', data })).toEqual(errorFrame(code, 'rt:join'));
        await expectAlive(client);
      });

      it('a room of exactly 200 characters is accepted', async () => {
        const room = 'r'.repeat(200);
        expect((await client.request('rt:join', { room })).data).toMatchObject({ name: room });
        await expectAlive(client);
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
        await expectAlive(client);
      });

      it('data not an object -> INVALID_DATA', async () => {
        expect(await answerTo({ event: 'rt:publish', data: 'pub', id: 9 })).toEqual(
          errorReply(9, 'INVALID_DATA'),
        );
        await expectAlive(client);
      });

      it('a bad room -> ROOM_NAME_INVALID', async () => {
        expect(
          await answerTo({ event: 'rt:publish', data: { room: '', event: 'chat' }, id: 9 }),
        ).toEqual(errorReply(9, 'ROOM_NAME_INVALID'));
        await expectAlive(client);
      });

      it('a room not joined -> NOT_IN_ROOM', async () => {
        const data = { room: 'elsewhere', event: 'chat', data: 1 };
        expect(await answerTo({ event: 'rt:publish', data, id: 10 })).toEqual(
          errorReply(10, 'NOT_IN_ROOM'),
        );
        expect(await answerTo({ event: 'rt:publish', data })).toEqual(
          errorFrame('NOT_IN_ROOM', 'rt:publish'),
        );
        await expectAlive(client);
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
        // A good one does reach it, numbered first: the refused ones took no offset.
        expect(
          await answerTo({
            event: 'rt:publish',
            data: { room: 'pub', event: 'chat', data: 3 },
            id: 1,
          }),
        ).toEqual({
          event: 'rt:reply',
          id: 1,
          data: { room: 'pub', epoch: expect.any(String), offset: 1 },
        });
        expect(await member.next()).toEqual(inRoom({ event: 'chat', data: 3, room: 'pub' }, 1));
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
  });
});
