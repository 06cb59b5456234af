import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { describe, expect, it } from 'vitest';
import { CloseCode, RealtimeConfigError } from '../../../lib/index.js';
import { startApp } from '../../support/app.js';
import { appForEachTest, expectAlive, leftovers, userFromQuery } from '../../support/fixtures.js';
import { eventIs, isAnswer } from '../../support/ws-client.js';

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

  it('serves a burst, drops the rest (telling the first once), and never slows another client', async () => {
    const flood = await rt.connect('flood');
    const calm = await rt.connect('calm');
    for (let n = 1; n <= 30; n++) flood.send({ event: 'ping', id: `p${n}` });
    await calm.request('rt:join', { room: 'r' }); // served while the flood is refused
    const frames = await leftovers(flood, 300);
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
    await new Promise((resolve) => setTimeout(resolve, 250));
    flood.frames.length = 0; // the flood's answers are checked; what follows is new
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
    const big = JSON.stringify({ event: 'ping', data: 'x'.repeat(900) }); // ~920 bytes
    for (let i = 0; i < 6; i++) client.send(big); // 4,096 bytes pass, the fifth does not
    const frames = await leftovers(client, 300);
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
