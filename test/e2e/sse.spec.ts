// The built-in SSE endpoint: events and ids, resume, refusals, keep-alive, publish,
// bounds and cleanup, against a real app over real HTTP.
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../lib/client/index.js';
import { RealtimeSse, type RealtimeModuleOptions } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { until, userFromQuery } from '../support/fixtures.js';
import { dataOf, SseTestClient } from '../support/sse-client.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).toReversed()) await cleanup();
});

async function started(options: RealtimeModuleOptions = {}): Promise<TestApp> {
  const app = await startApp({ authenticate: userFromQuery, ...options });
  cleanups.push(() => app.close());
  return app;
}

function base(app: TestApp): string {
  return `http://127.0.0.1:${app.port}`;
}

async function stream(app: TestApp, query: string, headers?: Record<string, string>) {
  const client = await SseTestClient.open(`${base(app)}/realtime/events?${query}`, headers);
  cleanups.push(() => client.close());
  return client;
}

async function post(app: TestApp, path: string, body: unknown, query = '') {
  const response = await fetch(`${base(app)}${path}${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

describe('SSE: events and ids', () => {
  it('streams a room with the documented headers, rt:connected first, then numbered events', async () => {
    const app = await started();
    const client = await stream(app, 'room=lobby&user=u1');
    expect(client.status).toBe(200);
    expect(client.response.headers).toMatchObject({
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
    });
    await client.until(() => client.events.length === 1);
    expect(client.blocks[0]).toEqual({ retry: 3_000, comments: [] });
    const connected = client.events[0]!;
    expect(connected.event).toBe('rt:connected');
    expect(connected.id).toBeUndefined();
    expect(dataOf(connected)).toEqual({
      connectionId: expect.any(String),
      userId: 'u1',
      keepAliveInterval: 15_000,
      publishToken: expect.any(String),
    });
    await until(async () => (await app.hub.roomInfo('lobby'))?.size === 1);

    const first = await app.hub.to('lobby').emit('chat', { text: 'hi' });
    await app.hub.to('lobby').emitBatch([
      { event: 'a', data: 1 },
      { event: 'b', data: 2 },
    ]);
    await app.hub.toUser('u1').emit('notice', 'for you');
    await client.until(() => client.events.length === 4);
    const [chat, batch, notice] = client.events.slice(1);
    expect(chat).toEqual({
      id: `lobby=${first!.epoch}:1`,
      event: 'chat',
      data: JSON.stringify({
        event: 'chat',
        data: { text: 'hi' },
        room: 'lobby',
        offset: 1,
        epoch: first!.epoch,
      }),
      comments: [],
    });
    // A batch to one room is one message: one event, one id.
    expect(batch).toMatchObject({ id: `lobby=${first!.epoch}:2`, event: 'rt:batch' });
    expect(dataOf(batch!).data).toEqual([
      { event: 'a', data: 1 },
      { event: 'b', data: 2 },
    ]);
    // Not a room message: no place in a stream, so no id (the last one stays).
    expect(notice).toEqual({
      event: 'notice',
      data: JSON.stringify({ event: 'notice', data: 'for you' }),
      comments: [],
    });
  });

  it('streams several rooms: each id carries the place in every room', async () => {
    const app = await started();
    const client = await stream(app, 'room=a&room=chat%3A1&room=a');
    await until(async () => (await app.hub.roomInfo('chat:1'))?.size === 1);
    const a = await app.hub.to('a').emit('m', 1);
    const c = await app.hub.to('chat:1').emit('m', 2);
    await app.hub.to('a').emit('m', 3);
    await client.until(() => client.events.length === 4);
    expect(client.events.slice(1).map((e) => e.id)).toEqual([
      `a=${a!.epoch}:1,chat%3A1=${c!.epoch}:0`,
      `a=${a!.epoch}:1,chat%3A1=${c!.epoch}:1`,
      `a=${a!.epoch}:2,chat%3A1=${c!.epoch}:1`,
    ]);
  });

  it('sends keep-alive comments every keepAliveInterval', async () => {
    const app = await started({ sse: { keepAliveInterval: 50 } });
    const client = await stream(app, 'room=quiet');
    await client.until(() => client.blocks.filter((b) => b.comments.length > 0).length >= 3);
    expect(client.blocks.filter((b) => b.comments.length > 0)[0]).toEqual({ comments: [''] });
  });
});
