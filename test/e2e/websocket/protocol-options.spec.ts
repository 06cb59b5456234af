// The protocol's opt-in query parameters for browser clients: `rt-refuse=close`
// (handshake refusals as close codes, which a browser can read) and `rt-ping=1`
// (an application-level heartbeat, which a browser can see). Other clients, and
// other values of the parameters, get the default behaviour.
import { BadRequestException, ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode, RealtimeHub, RealtimeWsServer } from '../../../lib/index.js';
import {
  errorReply,
  expectAlive,
  leftovers,
  queryParam,
  until,
  userFromQuery,
  withHarness,
} from '../../support/fixtures.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { eventIs, type TestClient } from '../../support/ws-client.js';

// -- helpers (local to this file) ----------------------------------------------

const { start, connect, open, handshake, forget, trackSocket } = withHarness();

/** What a loaded machine may add to a timer before it fires. */
const SLACK = 250;
const PING_FRAME = '{"event":"rt:ping"}';

/** Opens a socket that the server refuses with a close; resolves with what it saw. */
async function refusedWithClose(
  url: string,
): Promise<{ code: number; reason: string; frames: unknown[] }> {
  const client = await open(url);
  const code = await client.closed;
  return { code, reason: client.closeReason, frames: client.frames };
}

/** Records when each `rt:ping` text frame arrived, checking each is exactly the documented bytes. */
function recordPings(client: TestClient): { at: number[]; raw: string[]; wsPings: number } {
  const record = { at: [] as number[], raw: [] as string[], wsPings: 0 };
  client.socket.on('message', (raw) => {
    const text = raw.toString();
    if (text.includes('"rt:ping"')) {
      record.at.push(performance.now());
      record.raw.push(text);
    }
  });
  client.socket.on('ping', () => record.wsPings++);
  return record;
}

/** Answers every `rt:ping` with `answer()` (a frame, a string, or a Buffer for a binary frame). */
function answerPings(client: TestClient, answer: () => unknown): void {
  client.socket.on('message', (raw) => {
    if (raw.toString() !== PING_FRAME) return;
    const frame = answer();
    if (Buffer.isBuffer(frame)) client.socket.send(frame, { binary: true });
    else client.send(frame);
  });
}

const isOpen = (client: TestClient) => client.socket.readyState === WebSocket.OPEN;

/** The close seen by a client that asked for `rt-refuse=close`, for each refusal of `authenticate`. */
interface Refusal {
  readonly name: string;
  readonly authenticate: (request: IncomingMessage) => unknown;
  readonly handshakeTimeout?: number;
  /** What clients that did not ask get (today's answer). */
  readonly status: number;
  readonly code: number;
  readonly reason: string;
}

const refusals: Refusal[] = [
  {
    name: 'the hook returns null',
    authenticate: () => null,
    status: 401,
    code: 4501,
    reason: '401 Unauthorized',
  },
  {
    name: 'the hook returns false',
    authenticate: () => false,
    status: 401,
    code: 4501,
    reason: '401 Unauthorized',
  },
  {
    name: 'the hook throws a 401 HttpException',
    authenticate: () => {
      throw new UnauthorizedException('token expired');
    },
    status: 401,
    code: 4501,
    reason: '401 token expired',
  },
  {
    name: 'the hook throws ForbiddenException',
    authenticate: () => {
      throw new ForbiddenException();
    },
    status: 403,
    code: 4503,
    reason: '403 Forbidden',
  },
  {
    name: 'the hook throws another 4xx HttpException',
    authenticate: () => {
      throw new BadRequestException('no tenant');
    },
    status: 400,
    code: 4503,
    reason: '400 no tenant',
  },
  {
    name: 'the hook throws a plain Error',
    authenticate: () => {
      throw new Error('database down');
    },
    status: 500,
    code: 1011,
    reason: 'internal error',
  },
  {
    name: 'the hook returns a non-string userId',
    authenticate: () => ({ userId: 42 }),
    status: 500,
    code: 1011,
    reason: 'internal error',
  },
  {
    name: 'the hook takes longer than handshakeTimeout',
    authenticate: () => new Promise(() => undefined),
    handshakeTimeout: 100,
    status: 503,
    code: 1013,
    reason: 'try again later',
  },
];

// -- tests: rt-refuse=close -------------------------------------------------------

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('rt-refuse=close', () => {
    it.each(refusals)(
      'when $name: HTTP $status by default, close $code "$reason" when asked',
      async ({ authenticate, handshakeTimeout, status, code, reason }) => {
        const app = await start(
          {
            authenticate: authenticate as never,
            websocket: { closeTimeout: 300, ...(handshakeTimeout ? { handshakeTimeout } : {}) },
          },
          {},
          { logger: false },
        );
        // Without the parameter, and with a value that is not "close": today's HTTP answer.
        for (const query of ['', '?rt-refuse=nonsense', '?rt-refuse=1', '?rt-refuse=']) {
          const refused = await handshake(`${app.wsUrl}${query}`);
          expect({ query, status: refused.status, opened: refused.opened }).toEqual({
            query,
            status,
            opened: false,
          });
        }
        // With it: the handshake completes and the server closes at once.
        const closed = await refusedWithClose(`${app.wsUrl}?token=x&rt-refuse=close`);
        expect(closed).toEqual({ code, reason, frames: [] });
        expect(app.hub.connections.count()).toBe(0);
      },
    );

    it('keeps the code names of the documented table', () => {
      expect(CloseCode.AuthenticationRefused).toBe(4501);
      expect(CloseCode.Forbidden).toBe(4503);
      expect(CloseCode.InternalError).toBe(1011);
      expect(CloseCode.ServerFull).toBe(1013);
    });

    it('cuts a long multi-byte reason to 123 bytes of UTF-8 without splitting a character', async () => {
      let message = '';
      const app = await start({
        authenticate: () => {
          throw new ForbiddenException(message);
        },
      });
      const cases = [
        { text: 'é'.repeat(100), kept: '403 ' + 'é'.repeat(59) }, // 4 + 2 × 59 = 122 bytes
        { text: '😀'.repeat(40), kept: '403 ' + '😀'.repeat(29) }, // 4 + 4 × 29 = 120 bytes
        { text: 'a' + '😀'.repeat(40), kept: '403 a' + '😀'.repeat(29) }, // 121 bytes
        { text: 'x'.repeat(119), kept: '403 ' + 'x'.repeat(119) }, // exactly 123: kept whole
      ];
      for (const { text, kept } of cases) {
        message = text;
        const { code, reason } = await refusedWithClose(`${app.wsUrl}?rt-refuse=close`);
        expect(code).toBe(4503);
        expect(reason).toBe(kept);
        expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
        // Without the parameter the HTTP body still carries the whole message.
        const refused = await handshake(app.wsUrl);
        expect(refused.status).toBe(403);
        expect(refused.body).toBe(text);
      }
    });

    it('closes a handshake still authenticating at shutdown with 1013 (HTTP 503 without it), without hanging', async () => {
      const app = await start({
        websocket: { closeTimeout: 2_000 },
        authenticate: async () => {
          await sleep(300);
          return { userId: 'late' };
        },
      });
      const inBand = refusedWithClose(`${app.wsUrl}?rt-refuse=close`);
      const plain = handshake(app.wsUrl);
      await sleep(50); // both hooks are running now

      forget(app);
      const started = performance.now();
      await app.close();
      // The in-band client answered the close at once: no wait for closeTimeout.
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(await inBand).toEqual({ code: 1013, reason: 'try again later', frames: [] });
      expect((await plain).status).toBe(503);
    });

    it('accepts a client that asks for it like any other', async () => {
      const app = await start({
        authenticate: (request) =>
          queryParam(request, 'token') === 'ok' ? { userId: 'u1' } : null,
      });
      const client = await connect(`${app.wsUrl}?token=ok&rt-refuse=close`);
      expect(client.connected!.data).toMatchObject({ userId: 'u1' });
      await expectAlive(client);
    });

    it('leaves the 404 and 400 answers as HTTP, and the connection limits as close codes', async () => {
      const app = await start({ websocket: { maxConnections: 1 } });
      expect((await handshake(`ws://127.0.0.1:${app.port}/nope?rt-refuse=close`)).status).toBe(404);

      // Sec-WebSocket-Version 8 is not a handshake this server takes: 400.
      const old = trackSocket(
        new WebSocket(`${app.wsUrl}?rt-refuse=close`, { protocolVersion: 8 }),
      );
      old.on('error', () => undefined);
      const status = await new Promise<number>((resolve) => {
        old.on('unexpected-response', (_request, response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
      });
      expect(status).toBe(400);

      await connect(app.wsUrl);
      const full = await refusedWithClose(`${app.wsUrl}?rt-refuse=close`);
      expect(full).toEqual({ code: 1013, reason: 'server is full', frames: [] });
    });
  });

  // -- tests: rt-ping=1 ---------------------------------------------------------------

  @WebSocketGateway()
  class SlowGateway {
    @SubscribeMessage('slow')
    async slow(@MessageBody() ms: number) {
      await sleep(ms);
      return 'done';
    }
  }

  describe('rt-ping=1', () => {
    const PING_INTERVAL = 100;
    const PONG_TIMEOUT = 100;
    const websocket = { pingInterval: PING_INTERVAL, pongTimeout: PONG_TIMEOUT };

    it('sends the frame {"event":"rt:ping"} every pingInterval instead of a WebSocket ping; a client answering rt:pong stays', async () => {
      const app = await start({ websocket });
      const client = await connect(`${app.wsUrl}?rt-ping=1`);
      const pings = recordPings(client);
      answerPings(client, () => ({ event: 'rt:pong' }));

      await sleep(7 * PING_INTERVAL);
      expect(pings.wsPings).toBe(0);
      expect(pings.at.length).toBeGreaterThanOrEqual(4);
      expect(pings.at.length).toBeLessThanOrEqual(8);
      expect(new Set(pings.raw)).toEqual(new Set([PING_FRAME]));
      const gaps = pings.at.slice(1).map((at, i) => at - pings.at[i]!);
      expect(Math.min(...gaps)).toBeGreaterThan(PING_INTERVAL / 3);

      // Several rounds later it is still connected, and rt:pong without id got no answer.
      expect(client.closeCode).toBeUndefined();
      await expectAlive(client);
      expect(client.frames.filter((f) => f.event !== 'rt:ping')).toEqual([]);
    });

    it.each(['', '?rt-ping=2', '?rt-ping=true', '?rt-ping=', '?rt-batch=1'])(
      'keeps WebSocket pings and sends no rt:ping for "%s"',
      async (query) => {
        const app = await start({ websocket });
        const client = await connect(`${app.wsUrl}${query}`);
        const pings = recordPings(client);
        await sleep(5 * PING_INTERVAL);
        expect(pings.wsPings).toBeGreaterThanOrEqual(3);
        expect(pings.at).toEqual([]);
        expect(client.closeCode).toBeUndefined();
        await expectAlive(client);
      },
    );

    it('counts any frame as the answer: an unknown event, a bad frame, a binary frame', async () => {
      const app = await start({ websocket });
      const client = await connect(`${app.wsUrl}?rt-ping=1`);
      const pings = recordPings(client);
      const answers = [
        () => ({ event: 'nobody-handles-this' }),
        () => 'not json',
        () => Buffer.from([1, 2, 3]),
        () => ({ event: 'rt:ping' }),
      ];
      let n = 0;
      answerPings(client, () => answers[n++ % answers.length]!());

      await sleep(7 * PING_INTERVAL);
      expect(pings.at.length).toBeGreaterThanOrEqual(4);
      expect(client.closeCode).toBeUndefined();
      expect(isOpen(client)).toBe(true);
      const errors = client.frames.filter(eventIs('rt:error')).map((f) => f.data.code);
      expect(new Set(errors)).toEqual(new Set(['UNKNOWN_EVENT', 'BAD_FRAME']));
    });

    it('counts an answer that the rate limit drops; rt:pong is rate limited like any frame', async () => {
      const app = await start({
        websocket,
        rateLimit: { messagesPerSecond: 1, messageBurst: 1, maxRefused: 1_000 },
      });
      const client = await connect(`${app.wsUrl}?rt-ping=1`);
      // Spends the one token: every rt:pong below is dropped unread.
      expect(await client.request('rt:pong')).toEqual({ event: 'rt:reply', id: 1, data: null });
      const pings = recordPings(client);
      answerPings(client, () => ({ event: 'rt:pong' }));

      expect((await client.next(eventIs('rt:error'))).data).toMatchObject({ code: 'RATE_LIMITED' });
      await sleep(6 * PING_INTERVAL);
      expect(pings.at.length).toBeGreaterThanOrEqual(4);
      expect(client.closeCode).toBeUndefined();
      expect(isOpen(client)).toBe(true);
      expect(app.hub.connections.count()).toBe(1);
    });

    it('terminates a client that sends nothing within pongTimeout of an rt:ping, and removes it from its rooms', async () => {
      const app = await start({ websocket, authenticate: userFromQuery });
      const hub = app.app.get(RealtimeHub);
      const healthy = await connect(`${app.wsUrl}?user=healthy&rt-ping=1`);
      answerPings(healthy, () => ({ event: 'rt:pong' }));
      await healthy.request('rt:join', { room: 'hb' });

      // It answers WebSocket pings by itself (ws does), but no rt:ping.
      const silent = await connect(`${app.wsUrl}?user=silent&rt-ping=1`);
      const pings = recordPings(silent);
      await silent.request('rt:join', { room: 'hb' });
      const joinedAt = performance.now();
      expect(hub.connections.countByUser('silent')).toBe(1);

      expect(await silent.closed).toBe(1006);
      expect(performance.now() - joinedAt).toBeLessThan(PING_INTERVAL + PONG_TIMEOUT + SLACK);
      expect(pings.at.length).toBeGreaterThanOrEqual(1);
      expect(pings.wsPings).toBe(0);

      await until(async () => hub.connections.count() === 1);
      expect(hub.connections.countByUser('silent')).toBe(0);
      expect((await hub.roomMembers('hb')).map((m) => m.userId)).toEqual(['healthy']);
      expect(app.app.get(RealtimeWsServer).clients.size).toBe(1);
      expect(isOpen(healthy)).toBe(true);
    });

    it('does not hold a client whose socket the server is not reading, and still sends it rt:ping', async () => {
      const app = await start(
        { websocket: { ...websocket, maxPendingRequests: 1 } },
        { providers: [SlowGateway] },
      );
      const client = await connect(`${app.wsUrl}?rt-ping=1`);
      const pings = recordPings(client);
      // The server stops reading this socket for 6 rounds; the client never answers.
      const reply = await client.request('slow', 6 * PING_INTERVAL);
      expect(reply.data).toBe('done');
      expect(pings.at.length).toBeGreaterThanOrEqual(3);
      expect(isOpen(client)).toBe(true);
      // Read again, it is held to the heartbeat again, and does not answer.
      const resumedAt = performance.now();
      expect(await client.closed).toBe(1006);
      expect(performance.now() - resumedAt).toBeLessThan(PING_INTERVAL + PONG_TIMEOUT + SLACK);
    });
  });

  describe('rt:pong and rt:ping from a client', () => {
    it('rt:pong is a no-op that replies null to an id; rt:ping is UNKNOWN_EVENT', async () => {
      const app = await start({});
      for (const query of ['', '?rt-ping=1']) {
        const client = await connect(`${app.wsUrl}${query}`);
        expect(await client.request('rt:pong')).toEqual({ event: 'rt:reply', id: 1, data: null });
        expect(await client.request('rt:pong', { any: 'data' })).toEqual({
          event: 'rt:reply',
          id: 2,
          data: null,
        });
        const ping = await client.request('rt:ping');
        expect(ping).toEqual(errorReply(3, 'UNKNOWN_EVENT'));
        client.send({ event: 'rt:pong' });
        expect(await leftovers(client)).toEqual([]);
        await expectAlive(client);
      }
    });
  });
});
