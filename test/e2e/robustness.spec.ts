import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CloseCode } from '../../lib/index.js';
import { appForEachTest, expectAlive, userFromQuery } from '../support/fixtures.js';
import { eventIs } from '../support/ws-client.js';

@WebSocketGateway()
class OddGateway {
  @SubscribeMessage('cycle')
  cycle() {
    const value: Record<string, unknown> = {};
    value.self = value;
    return value;
  }

  @SubscribeMessage('bigint')
  bigint(@MessageBody() data: unknown) {
    return { data, big: 10n };
  }
}

describe('results JSON cannot carry', () => {
  const fixture = appForEachTest({}, { providers: [OddGateway] });

  it('answers a cyclic result with INTERNAL_ERROR and keeps serving', async () => {
    const client = await fixture.connect();
    const reply = await client.request('cycle');
    expect(reply.error).toEqual({ code: 'INTERNAL_ERROR', message: 'Internal server error' });
    client.send({ event: 'bigint', data: 1 });
    expect((await client.next(eventIs('rt:error'))).data).toEqual({
      code: 'INTERNAL_ERROR',
      message: 'Internal server error',
      event: 'bigint',
    });
    await expectAlive(client);
  });
});

describe('closing', () => {
  const fixture = appForEachTest({
    authenticate: userFromQuery,
    websocket: { maxBufferedBytes: 64 * 1024 },
  });

  it('cuts a long disconnect reason to what a close frame carries', async () => {
    const client = await fixture.connect('u1');
    fixture.hub.disconnect(client.connectionId, 'é'.repeat(500));
    expect(await client.closed).toBe(CloseCode.Disconnected);
    expect(Buffer.byteLength(client.closeReason)).toBeLessThanOrEqual(123);
    expect(client.closeReason).toMatch(/^é+$/);
  });

  it('closes a client that stops reading with 4002, and only that one', async () => {
    const reader = await fixture.connect('reader');
    const stalled = new WebSocket(`${fixture.app.wsUrl}?user=stalled`);
    fixture.harness.trackSocket(stalled);
    await new Promise((resolve) => stalled.once('open', resolve));
    // Stop reading from the TCP socket: the server's writes pile up on its side.
    stalled.pause();
    let received = 0;
    stalled.on('message', () => received++);
    const closed = new Promise<number>((resolve) => stalled.once('close', resolve));

    const payload = 'x'.repeat(16 * 1024);
    const sent = 2_000; // 32 MiB: far past what the kernel buffers on loopback
    for (let i = 0; i < sent; i++) await fixture.hub.toUser('stalled').emit('bulk', payload);
    await fixture.hub.toUser('reader').emit('ping', 1);
    expect((await reader.next(eventIs('ping'))).data).toBe(1);

    stalled.resume();
    expect(await closed).toBe(CloseCode.SlowConsumer);
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(sent);
    await expectAlive(reader);
  });
});
