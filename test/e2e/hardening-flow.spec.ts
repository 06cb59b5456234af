// Regression tests of the review's hardening, for flow control: backpressure and the
// heartbeat, stream slots, handler teardowns that throw, and clients that stop reading.
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { setTimeout as delay } from 'node:timers/promises';
import { Observable, interval, map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { WsConnection } from '../../lib/index.js';
import {
  appForEachTest,
  errorReply,
  expectAlive,
  until,
  userFromQuery,
  withHarness,
  recordUncaught,
} from '../support/fixtures.js';
import { eventIs, type Frame } from '../support/ws-client.js';

/** What a loaded machine may add to a timer before it fires. */
const SLACK = 1_000;
const SLOW_MS = 1_500;

@WebSocketGateway()
class FlowGateway {
  @SubscribeMessage('slow')
  async slow(@MessageBody() data: unknown) {
    await delay(SLOW_MS);
    return { slow: data };
  }

  /** A stream that goes on emitting `{ label, i }` every 20 ms. */
  @SubscribeMessage('ticks')
  ticks(@MessageBody() label: string) {
    return interval(20).pipe(map((i) => ({ event: 'tick', data: { label, i } })));
  }

  /** Never emits; unsubscribing it throws. */
  @SubscribeMessage('fragile')
  fragile() {
    return new Observable<never>(() => () => {
      throw new Error('teardown boom');
    });
  }
}

describe('backpressure and the heartbeat', () => {
  const fixture = appForEachTest(
    { websocket: { maxPendingRequests: 1, pingInterval: 200, pongTimeout: 300 } },
    { providers: [FlowGateway] },
  );

  it('does not terminate a healthy client while its socket is not read', async () => {
    const client = await fixture.connect();
    const started = Date.now();
    // The server stops reading this socket for 1.5 s: several heartbeat rounds, whose
    // pongs it cannot read until the handler is done.
    const reply = await client.request('slow', 7);
    expect(reply).toEqual({ event: 'rt:reply', id: reply.id, data: { slow: 7 } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(SLOW_MS - 20);
    expect(client.closeCode).toBeUndefined();
    await expectAlive(client);
    // Reading again, it is held to the heartbeat again, and answers it.
    await delay(700);
    expect(client.closeCode).toBeUndefined();
    await expectAlive(client);
  });
});

describe('stream slots', () => {
  const fixture = appForEachTest(
    { websocket: { maxPendingRequests: 2 } },
    { providers: [FlowGateway] },
  );

  it('gives a stream its slot back after its first value, and refuses one stream too many', async () => {
    const client = await fixture.connect();
    const ticksOf = (label: string) =>
      client.frames.filter((frame: Frame) => frame.event === 'tick' && frame.data.label === label)
        .length;
    client.send({ event: 'ticks', data: 'a' });
    client.send({ event: 'ticks', data: 'b' });

    // Two streams open, as many as slots: requests are still read and answered.
    const started = Date.now();
    const joined = await client.request('rt:join', { room: 'streams' });
    expect(joined).toEqual({
      event: 'rt:reply',
      id: joined.id,
      data: expect.objectContaining({ name: 'streams', size: 1 }),
    });
    expect(Date.now() - started).toBeLessThan(SLACK);

    client.send({ event: 'ticks', data: 'c' });
    expect(await client.next(eventIs('rt:error'))).toEqual({
      event: 'rt:error',
      data: { code: 'TOO_MANY_REQUESTS', message: expect.any(String), event: 'ticks' },
    });
    const refused = await client.request('ticks', 'd');
    expect(refused).toEqual(errorReply(refused.id!, 'TOO_MANY_REQUESTS'));

    const [a, b] = [ticksOf('a'), ticksOf('b')];
    await delay(300);
    expect(ticksOf('a')).toBeGreaterThanOrEqual(a + 5);
    expect(ticksOf('b')).toBeGreaterThanOrEqual(b + 5);
    expect(ticksOf('c')).toBe(0);
    expect(ticksOf('d')).toBe(0);
    await expectAlive(client);
  });
});

describe('handler teardowns', () => {
  const harness = withHarness();

  it('survive a teardown that throws when the client disconnects', async () => {
    const uncaught = recordUncaught(harness);
    const app = await harness.start({}, { providers: [FlowGateway] });
    const baseline = app.hub.connections.count();
    const client = await harness.connect(app.wsUrl);
    client.send({ event: 'fragile' });
    await expectAlive(client); // frames are handled in order: 'fragile' is subscribed
    expect(app.hub.connections.count()).toBe(baseline + 1);

    await client.close();
    await until(() => app.hub.connections.count() === baseline);

    harness.forget(app);
    const closing = app.close().then(() => 'closed');
    const outcome = await Promise.race([closing, delay(2_000, 'still closing')]);
    expect(outcome).toBe('closed');
    await delay(50); // let deferred throws surface
    expect(uncaught).toEqual([]);
  });
});

describe('slow consumers', () => {
  const CLOSE_TIMEOUT = 300;
  const fixture = appForEachTest({
    authenticate: userFromQuery,
    websocket: { maxBufferedBytes: 64 * 1024, closeTimeout: CLOSE_TIMEOUT },
  });

  it('cuts a client that never reads again within closeTimeout of the flood', async () => {
    const { hub } = fixture;
    const reader = await fixture.connect('reader');
    const stalled = fixture.harness.trackSocket(new WebSocket(`${fixture.app.wsUrl}?user=stalled`));
    await new Promise((resolve) => stalled.once('open', resolve));
    stalled.pause(); // never resumed: it will not read the close frame either
    const [connection] = hub.connections.listByUser('stalled') as WsConnection[];
    expect(connection).toBeInstanceOf(WsConnection);

    const payload = 'x'.repeat(16 * 1024);
    let sent = 0;
    while (connection!.isOpen && sent < 4_000) {
      await hub.toUser('stalled').emit('bulk', payload);
      sent++;
    }
    const floodEnd = Date.now();
    expect(connection!.isOpen).toBe(false); // it was cut by the flood, not by the bound

    await hub.toUser('reader').emit('ping', 1);
    expect((await reader.next(eventIs('ping'))).data).toBe(1);

    await until(() => !hub.connections.has(connection!), CLOSE_TIMEOUT + SLACK);
    expect(Date.now() - floodEnd).toBeLessThanOrEqual(CLOSE_TIMEOUT + SLACK);
    expect(hub.connections.listByUser('stalled')).toEqual([]);
    await expectAlive(reader);
  });
});
