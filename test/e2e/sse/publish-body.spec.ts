// The body of an SSE publish (POST <sse.path>/publish) over each HTTP platform: the
// endpoint reads it with its own limit (sse.maxPayload, 1 MiB) and refuses it in its
// own shape on Express and Fastify alike, not with the platform parser's limit and
// answers (docs/protocol.md, Publishing). Whatever is refused, nothing is published: a
// good publish after the refusals is the fence, and it must be the only message a
// watcher of the room gets.
import { Body, Controller, Post } from '@nestjs/common';
import { request as httpRequest } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { RealtimeModuleOptions } from '../../../lib/index.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { userFromQuery, withHarness } from '../../support/fixtures.js';
import { testLogger } from '../../support/logger.js';
import { dataOf, httpBase, joined, messages, openStream } from '../../support/sse-client.js';

const harness = withHarness();

/** Our refusal: `{ "error": { "code", "message" } }`. */
const refusal = (code: string, message: unknown = expect.any(String)) => ({
  error: { code, message },
});
/** Our answer to a body that is not sent as JSON. */
const NOT_JSON_TYPE = {
  status: 415,
  body: refusal('INVALID_DATA', 'the body must be JSON, sent with Content-Type: application/json'),
};
/** Our answer to a body that is not JSON. */
const NOT_JSON = { status: 400, body: refusal('INVALID_DATA', 'the body is not valid JSON') };
/** Our answer to a body past sse.maxPayload. */
const TOO_LARGE = { status: 413, body: refusal('PAYLOAD_TOO_LARGE') };
/** The default sse.maxPayload, as websocket.maxPayload's. */
const MAX_PAYLOAD = 1 << 20;

/** An app route that takes a JSON body: the platform's parser still reads it. */
@Controller('notes')
class NotesController {
  @Post()
  add(@Body() body: unknown) {
    return { got: body };
  }
}

const JSON_TYPE = 'application/json';

/**
 * An app where `reader` has a stream in `lobby` (whose credentials the bodies carry)
 * and `watcher` another, which sees whatever is published there.
 */
async function lobby(options: RealtimeModuleOptions = {}) {
  const app = await harness.start(
    { authenticate: userFromQuery, ...options },
    { controllers: [NotesController] },
  );
  const reader = await openStream(harness, app, 'user=reader&room=lobby');
  const watcher = await openStream(harness, app, 'user=watcher&room=lobby');
  await joined(reader);
  await joined(watcher);
  const { connectionId: connection, publishToken: token } = dataOf(reader.events[0]!);
  /** A publish to lobby from reader's stream, with these fields instead. */
  const fields = (changes: Record<string, unknown> = {}) => ({
    connection,
    token,
    room: 'lobby',
    event: 'chat',
    data: 'published',
    ...changes,
  });
  /** `fields` as JSON of exactly `size` bytes (its data padded). */
  const sized = (size: number, changes: Record<string, unknown> = {}) => {
    const bare = JSON.stringify(fields({ ...changes, data: '' }));
    return JSON.stringify(fields({ ...changes, data: 'x'.repeat(size - bare.length) }));
  };
  /** POSTs `body` as reader; every answer, ours or the platform's, is JSON. */
  const send = async (body: string | Uint8Array<ArrayBuffer>, type?: string) => {
    const response = await fetch(`${httpBase(app)}/realtime/events/publish?user=reader`, {
      method: 'POST',
      headers: type === undefined ? {} : { 'content-type': type },
      body,
    });
    return { status: response.status, body: JSON.parse(await response.text()) as unknown };
  };
  /** Publishes `fence`, and resolves with the data of every message the watcher got. */
  const fence = async (type = JSON_TYPE) => {
    const sent = await send(JSON.stringify(fields({ data: 'fence' })), type);
    expect(sent).toEqual({ status: 200, body: expect.objectContaining({ room: 'lobby' }) });
    await watcher.until(() => messages(watcher).some((m) => dataOf(m).data === 'fence'));
    return messages(watcher).map((m) => dataOf(m).data as unknown);
  };
  return { app, fields, sized, send, fence, delivered: () => messages(watcher).length };
}

/**
 * POSTs `chunks` as reader with chunked transfer encoding (no Content-Length), and
 * resolves with the answer and whether the server closed the connection.
 */
function sendChunked(
  base: string,
  chunks: readonly string[],
): Promise<{ status: number; body: unknown; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${base}/realtime/events/publish?user=reader`, {
      method: 'POST',
      headers: { 'content-type': JSON_TYPE, 'transfer-encoding': 'chunked' },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode!,
          body: JSON.parse(text) as unknown,
          closed: response.headers.connection === 'close',
        }),
      );
    });
    // Writes until the server answers (it need not read everything).
    const write = (at: number): void => {
      if (at === chunks.length) request.end();
      else if (!request.destroyed) request.write(chunks[at], () => write(at + 1));
    };
    write(0);
  });
}

describe.each(PLATFORMS)('the SSE publish body, over %s', (platform) => {
  usePlatform(platform);

  it('answers a body that is not JSON with 400 INVALID_DATA, and publishes nothing', async () => {
    const { fields, send, fence } = await lobby();
    const json = JSON.stringify(fields());
    for (const body of [`${json}}`, json.slice(0, -1), 'hello', '']) {
      expect([body, await send(body, JSON_TYPE)]).toEqual([body, NOT_JSON]);
    }
    // JSON, but not an object: the endpoint's refusal.
    for (const body of ['null', '"x"', '[1]']) {
      expect([body, await send(body, JSON_TYPE)]).toEqual([
        body,
        { status: 400, body: refusal('INVALID_DATA') },
      ]);
    }
    expect(await fence()).toEqual(['fence']);
    expect(testLogger.problems()).toEqual([]);
  });

  it('answers well-formed JSON with bad fields with 400 INVALID_DATA, and publishes nothing', async () => {
    const { fields, send, fence } = await lobby();
    const bad = [
      [fields()],
      {},
      fields({ connection: 5 }),
      fields({ token: undefined }),
      fields({ event: 42 }),
      fields({ event: 'rt:chat' }),
      fields({ echo: 'yes' }),
    ];
    for (const body of bad) {
      expect([body, await send(JSON.stringify(body), JSON_TYPE)]).toEqual([
        body,
        { status: 400, body: refusal('INVALID_DATA') },
      ]);
    }
    expect(await fence()).toEqual(['fence']);
    expect(testLogger.problems()).toEqual([]);
  });

  it('answers a body not sent as application/json with 415, and publishes nothing', async () => {
    const { fields, send, fence } = await lobby();
    const json = JSON.stringify(fields());
    const form = new URLSearchParams(fields() as Record<string, string>).toString();
    expect(await send(form, 'application/x-www-form-urlencoded')).toEqual(NOT_JSON_TYPE);
    expect(await send(json, 'text/plain')).toEqual(NOT_JSON_TYPE);
    for (const type of ['application/xml', 'application/vnd.api+json']) {
      expect([type, await send(json, type)]).toEqual([type, NOT_JSON_TYPE]);
    }
    expect(await send(new TextEncoder().encode(json))).toEqual(NOT_JSON_TYPE);
    // Parameters and case do not matter.
    expect(await fence('Application/JSON; charset=utf-8')).toEqual(['fence']);
    expect(testLogger.problems()).toEqual([]);
  });

  it('publishes a body of up to 1 MiB, as a WebSocket frame may be, and refuses one byte more with 413', async () => {
    const { sized, send, fence, delivered } = await lobby();
    // Past Express's parser's own limit (100 KiB): it is the endpoint's limit that counts.
    expect(await send(sized(200_000), JSON_TYPE)).toEqual({
      status: 200,
      body: expect.objectContaining({ room: 'lobby' }),
    });
    expect(await send(sized(MAX_PAYLOAD), JSON_TYPE)).toEqual({
      status: 200,
      body: expect.objectContaining({ room: 'lobby' }),
    });
    expect(await send(sized(MAX_PAYLOAD + 1), JSON_TYPE)).toEqual(TOO_LARGE);
    const got = await fence();
    expect(got.map((data) => String(data).length)).toEqual([
      expect.any(Number),
      expect.any(Number),
      'fence'.length,
    ]);
    expect(delivered()).toBe(3);
    expect(testLogger.problems()).toEqual([]);
  });

  it('takes sse.maxPayload as its limit, counted also without a Content-Length', async () => {
    const { app, sized, send, fence } = await lobby({ sse: { maxPayload: 4096 } });
    expect(await send(sized(4096, { token: 'wrong' }), JSON_TYPE)).toEqual({
      status: 403,
      body: refusal('FORBIDDEN'),
    });
    expect(await send(sized(4097), JSON_TYPE)).toEqual(TOO_LARGE);
    // Chunked: refused once the bytes pass the limit, and the connection closed after.
    const body = sized(20_000);
    const chunks = Array.from({ length: 20 }, (_, at) => body.slice(at * 1000, (at + 1) * 1000));
    expect(await sendChunked(httpBase(app), chunks)).toEqual({ ...TOO_LARGE, closed: true });
    expect(await fence()).toEqual(['fence']);
    expect(testLogger.problems()).toEqual([]);
  });

  it('answers so under a global prefix, with the CORS headers a page of an allowed origin needs', async () => {
    const app = await harness.start(
      { authenticate: userFromQuery, origins: ['http://page.test'] },
      {},
      { configure: (nest) => nest.setGlobalPrefix('api') },
    );
    const response = await fetch(`${httpBase(app)}/api/realtime/events/publish?user=reader`, {
      method: 'POST',
      headers: { 'content-type': JSON_TYPE, origin: 'http://page.test' },
      body: '{',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://page.test');
    expect(await response.json()).toEqual(NOT_JSON.body);
  });

  it("leaves the app's own routes to the platform's parser", async () => {
    const { app } = await lobby();
    const post = (body: string) =>
      fetch(`${httpBase(app)}/notes`, {
        method: 'POST',
        headers: { 'content-type': JSON_TYPE },
        body,
      });
    const good = await post('{"text":"hi"}');
    expect([good.status, await good.json()]).toEqual([201, { got: { text: 'hi' } }]);
    // The platform's own refusal shape, not ours.
    const bad = await post('{');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual(expect.objectContaining({ statusCode: 400 }));
  });
});
