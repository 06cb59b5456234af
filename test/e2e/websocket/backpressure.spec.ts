import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode, WsConnection } from '../../../lib/index.js';
import { appForEachTest, join, until, userFromQuery } from '../../support/fixtures.js';
import { eventIs } from '../../support/ws-client.js';

const MAX_BUFFERED = 256 * 1024;
const rt = appForEachTest({
  authenticate: userFromQuery,
  websocket: { maxBufferedBytes: MAX_BUFFERED, closeTimeout: 300 },
});

/** A raw ws client that joined `room` and then stopped reading its socket. */
async function stalledMember(user: string, room: string): Promise<WebSocket> {
  const client = await rt.connect(user);
  await join(client, room);
  client.socket.pause();
  return client.socket;
}

function serverSide(user: string): WsConnection {
  return rt.hub.connections.listByUser(user)[0] as WsConnection;
}

describe('a client that does not read', () => {
  it('loses volatile messages, stays connected, and holds at most maxBufferedBytes', async () => {
    const stalled = await stalledMember('slow', 'r');
    const reader = await rt.connect('fast');
    await join(reader, 'r');
    const connection = serverSide('slow');
    const payload = 'x'.repeat(16 * 1024);
    let held = 0;
    for (let i = 0; i < 1_000; i++) {
      await rt.hub.to('r').volatile.emit('tick', payload); // 16 MiB in all
      held = Math.max(held, connection.socket.bufferedAmount);
    }
    // Half of the bound, plus at most the one tick's frames written before it was reached.
    expect(held).toBeLessThan(MAX_BUFFERED);
    expect(connection.isOpen).toBe(true);
    await rt.hub.to('r').emit('important', 1); // not volatile: never dropped
    expect((await reader.next(eventIs('important'))).data).toBe(1);
    stalled.resume();
    await until(() => connection.socket.bufferedAmount === 0, 5_000);
    expect(connection.isOpen).toBe(true);
  });

  it('is closed with 4002 when messages that may not be dropped pile up, holding no more than the bound', async () => {
    const stalled = await stalledMember('slow', 'r');
    const closed = new Promise<number>((resolve) => stalled.once('close', resolve));
    const connection = serverSide('slow');
    const payload = 'x'.repeat(16 * 1024);
    let held = 0;
    for (let i = 0; i < 1_000 && connection.isOpen; i++) {
      await rt.hub.to('r').emit('tick', payload);
      held = Math.max(held, connection.socket.bufferedAmount);
    }
    expect(connection.isOpen).toBe(false);
    // The bound, plus the frame that crossed it.
    expect(held).toBeLessThanOrEqual(MAX_BUFFERED + 17 * 1024);
    stalled.resume();
    const code = await closed;
    // The close frame waits behind unread data; the cut after closeTimeout comes first
    // unless the client catches up in time.
    expect([CloseCode.SlowConsumer, 1006]).toContain(code);
    await until(() => rt.hub.connections.countByUser('slow') === 0, 2_000);
  });
});
