import { createServer, get, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeFrame } from '../../protocol/index.js';
import { SseWriter } from './response-sink.js';

const servers: ReturnType<typeof createServer>[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

/** `count` real responses of an HTTP server, and what each client reads of its body. */
async function responses(count: number) {
  const opened: ServerResponse[] = [];
  let onOpen: () => void;
  const allOpen = new Promise<void>((resolve) => (onOpen = resolve));
  const server = createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/event-stream' });
    response.flushHeaders();
    if (opened.push(response) === count) onOpen();
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const bodies = Array.from({ length: count }, () => {
    let text = '';
    const ended = new Promise<string>((resolve) => {
      get({ port, host: '127.0.0.1', path: '/', agent: false }, (response) => {
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve(text));
      });
    });
    return ended;
  });
  await allOpen;
  return { opened, bodies };
}

describe('SseWriter', () => {
  it("writes a tick's events to each stream once, the same bytes for every stream", async () => {
    const { opened, bodies } = await responses(2);
    const writer = new SseWriter();
    const writes = opened.map((response) => vi.spyOn(response, 'write'));
    const sinks = opened.map((response) => writer.sink(response));
    const frames = [encodeFrame({ event: 'a', data: 1 }), encodeFrame({ event: 'b', data: 2 })];
    // As the hub delivers: each message to every stream of the room in turn.
    for (const sink of sinks) sink.event('r:1', 'a', frames[0]!);
    for (const sink of sinks) sink.event('r:2', 'b', frames[1]!);
    for (const sink of sinks) sink.comment('');
    expect(writes.map((w) => w.mock.calls.length)).toEqual([0, 0]);
    expect(sinks[0]!.buffered).toBeGreaterThan(0);
    await new Promise((resolve) => process.nextTick(resolve));
    expect(writes.map((w) => w.mock.calls.length)).toEqual([1, 1]);
    expect(writes[0]!.mock.calls[0]![0]).toBe(writes[1]!.mock.calls[0]![0]);
    for (const sink of sinks) sink.end(1000, 'done');
    const expected = `id: r:1\nevent: a\ndata: ${frames[0]!.bytes}\n\nid: r:2\nevent: b\ndata: ${frames[1]!.bytes}\n\n:\n\n`;
    expect(await Promise.all(bodies)).toEqual([expected, expected]);
  });

  it('writes what the tick queued before it ends a stream', async () => {
    const { opened, bodies } = await responses(1);
    const sink = new SseWriter().sink(opened[0]!);
    sink.event(undefined, 'rt:resync', '{"room":"r"}');
    sink.end(1001, 'going away');
    expect(await bodies[0]).toBe('event: rt:resync\ndata: {"room":"r"}\n\n');
  });
});
