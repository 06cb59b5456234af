// The body of an SSE publish (POST <sse.path>/publish) over each HTTP platform: the
// platform's body parser reads it before the endpoint does, and Express's and
// Fastify's differ (docs/protocol.md, Publishing). Whatever either refuses, nothing is
// published: a good publish after the refusals is the fence, and it must be the only
// message a watcher of the room gets.
import { describe, expect, it } from 'vitest';
import { PLATFORMS, usePlatform, type Platform } from '../../support/app.js';
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

/** What each platform's parser answers, as Nest sets it up (its defaults). */
const PARSERS: Record<
  Platform,
  {
    /** The largest body the JSON parser reads, in bytes. */
    readonly limit: number;
    /** A body that is not JSON (trailing garbage, cut short, plain words). */
    readonly notJson: { status: number; body: unknown };
    /** An empty body sent as JSON. */
    readonly empty: { status: number; body: unknown };
    /** JSON that is neither an object nor an array (`null`, `"x"`). */
    readonly scalar: { status: number; body: unknown };
    /** A media type the platform has no parser for. */
    readonly unknownType: { status: number; body: unknown };
    readonly tooLarge: { status: number; body: unknown };
  }
> = {
  express: {
    limit: 100 * 1024,
    notJson: {
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: expect.stringMatching(/JSON/) },
    },
    // body-parser reads an empty body as {}: it reaches the endpoint.
    empty: { status: 400, body: refusal('INVALID_DATA') },
    // body-parser's strict mode takes objects and arrays only.
    scalar: {
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: expect.stringMatching(/JSON/) },
    },
    // Not parsed at all: the endpoint refuses it.
    unknownType: NOT_JSON_TYPE,
    tooLarge: { status: 413, body: { statusCode: 413, message: 'request entity too large' } },
  },
  fastify: {
    limit: 1024 * 1024,
    notJson: {
      status: 400,
      body: {
        statusCode: 400,
        message: "Body is not valid JSON but content-type is set to 'application/json'",
      },
    },
    empty: {
      status: 400,
      body: {
        statusCode: 400,
        message: "Body cannot be empty when content-type is set to 'application/json'",
      },
    },
    // Fastify parses any JSON value: the endpoint refuses what is not an object.
    scalar: { status: 400, body: refusal('INVALID_DATA') },
    unknownType: { status: 415, body: { statusCode: 415, message: 'Unsupported Media Type' } },
    tooLarge: { status: 413, body: { statusCode: 413, message: 'Request body is too large' } },
  },
};

const JSON_TYPE = 'application/json';

/**
 * An app where `reader` has a stream in `lobby` (whose credentials the bodies carry)
 * and `watcher` another, which sees whatever is published there.
 */
async function lobby() {
  const app = await harness.start({ authenticate: userFromQuery });
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
  return { app, fields, sized, send, fence };
}

describe.each(PLATFORMS)('the SSE publish body, over %s', (platform) => {
  usePlatform(platform);
  const parser = PARSERS[platform];

  it("answers a body that is not JSON with the platform's own answer, and publishes nothing", async () => {
    const { fields, send, fence } = await lobby();
    const json = JSON.stringify(fields());
    for (const body of [`${json}}`, json.slice(0, -1), 'hello']) {
      expect([body, await send(body, JSON_TYPE)]).toEqual([body, parser.notJson]);
    }
    expect(await send('', JSON_TYPE)).toEqual(parser.empty);
    for (const body of ['null', '"x"']) {
      expect([body, await send(body, JSON_TYPE)]).toEqual([body, parser.scalar]);
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
    // Both platforms, as Nest sets them up, parse forms; Fastify reads plain text too.
    expect(await send(form, 'application/x-www-form-urlencoded')).toEqual(NOT_JSON_TYPE);
    expect(await send(json, 'text/plain')).toEqual(NOT_JSON_TYPE);
    // No parser for these: Fastify refuses them itself.
    for (const type of ['application/xml', 'application/vnd.api+json']) {
      expect([type, await send(json, type)]).toEqual([type, parser.unknownType]);
    }
    expect(await send(new TextEncoder().encode(json))).toEqual(parser.unknownType);
    // Parameters and case do not matter.
    expect(await fence('Application/JSON; charset=utf-8')).toEqual(['fence']);
    expect(testLogger.problems()).toEqual([]);
  });

  it(`refuses a body over the platform's limit (${parser.limit} bytes) with 413, and publishes nothing`, async () => {
    const { sized, send, fence } = await lobby();
    expect(await send(sized(parser.limit + 1), JSON_TYPE)).toEqual(parser.tooLarge);
    // One of exactly the limit reaches the endpoint (and is refused there: wrong token).
    expect(await send(sized(parser.limit, { token: 'wrong' }), JSON_TYPE)).toEqual({
      status: 403,
      body: refusal('FORBIDDEN'),
    });
    expect(await fence()).toEqual(['fence']);
    expect(testLogger.problems()).toEqual([]);
  });
});
