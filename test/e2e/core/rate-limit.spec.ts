import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CloseCode, RealtimeConfigError, WsConnection } from '../../../lib/index.js';
import { startApp } from '../../support/app.js';
import { appForEachTest, expectAlive, until, userFromQuery } from '../../support/fixtures.js';
import { eventIs, isAnswer, type Frame, type TestClient } from '../../support/ws-client.js';

@WebSocketGateway()
class PingGateway {
  @SubscribeMessage('ping')
  ping() {
    return 'pong';
  }
}

describe('rate limits', () => {
  const rt = appForEachTest(
    {
      authenticate: userFromQuery,
      websocket: { maxPayload: 1_024 },
      rateLimit: { messagesPerSecond: 10, messageBurst: 20, byteBurst: 4_096, maxRefused: 50 },
    },
    { providers: [PingGateway] },
  );

  // The buckets read performance.now() (node:perf_hooks' performance is the global one):
  // frozen, no token comes back while a test sends, however slow the machine; a test that
  // wants a refill moves the clock itself (`clock += ms`).
  let clock = 0;
  beforeEach(() => {
    clock = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => clock);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /**
   * Counts the frames the server reads from `client` from now on: its own listener on the
   * socket comes first, so a frame counted here has been admitted or dropped.
   */
  function serverReads(client: TestClient): { count: number } {
    const connection = rt.hub.connections.get(client.connectionId) as WsConnection;
    const reads = { count: 0 };
    connection.socket.on('message', () => reads.count++);
    return reads;
  }

  /**
   * Every frame the client got for the `sent` frames the server has read or will read:
   * once it has read them all, one token back (the clock moves 100 ms) lets a request
   * through, whose reply comes after the answers to them all (a connection's frames take
   * effect in order).
   */
  async function answersTo(
    client: TestClient,
    reads: { count: number },
    sent: number,
  ): Promise<Frame[]> {
    await until(() => reads.count === sent, 10_000);
    clock += 100;
    const barrier = await client.request('rt:join', { room: 'barrier' });
    expect(barrier.error).toBeUndefined();
    return client.frames.splice(0);
  }

  it('serves a burst, drops the rest (telling the first once), and never slows another client', async () => {
    const flood = await rt.connect('flood');
    const calm = await rt.connect('calm');
    const reads = serverReads(flood);
    for (let n = 1; n <= 30; n++) flood.send({ event: 'ping', id: `p${n}` });
    await calm.request('rt:join', { room: 'r' }); // served while the flood is refused
    const frames = await answersTo(flood, reads, 30);
    const answered = frames.filter(isAnswer).filter((f) => f.event === 'rt:reply');
    expect(answered.map((f) => f.id)).toEqual(Array.from({ length: 20 }, (_, i) => `p${i + 1}`));
    expect(answered.every((f) => f.data === 'pong')).toBe(true);
    expect(frames.filter(eventIs('rt:error'))).toEqual([
      {
        event: 'rt:error',
        data: { code: 'RATE_LIMITED', message: 'too many frames: slow down' },
      },
    ]);
    expect(flood.closeCode).toBeUndefined();
    // The bucket refills at 10 frames a second.
    clock += 250;
    await expectAlive(flood);
    await expectAlive(calm);
  });

  it('closes a client that goes on sending with 4003', async () => {
    const flood = await rt.connect('flood');
    for (let id = 1; id <= 200; id++) flood.send({ event: 'ping', id });
    expect(await flood.closed).toBe(CloseCode.RateLimited);
    const other = await rt.connect('other');
    await expectAlive(other);
  });

  it('limits bytes too', async () => {
    const client = await rt.connect('big');
    const reads = serverReads(client);
    const big = JSON.stringify({ event: 'ping', data: 'x'.repeat(900) }); // ~920 bytes
    for (let i = 0; i < 6; i++) client.send(big); // 4,096 bytes pass, the fifth does not
    const frames = await answersTo(client, reads, 6);
    expect(frames.filter(eventIs('ping'))).toHaveLength(4);
    expect(frames.filter(eventIs('rt:error')).map((f) => f.data.code)).toEqual(['RATE_LIMITED']);
  });

  it('refuses a byte burst below maxPayload at start-up', async () => {
    const error = await startApp(
      { websocket: { maxPayload: 10_000 }, rateLimit: { byteBurst: 5_000 } },
      {},
      { logger: false },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RealtimeConfigError);
    expect((error as RealtimeConfigError).option).toBe('rateLimit.byteBurst');
  });
});
