import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { describe, expect, it } from 'vitest';
import { RealtimeHub, type WsConnection } from '../../../lib/index.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { appForEachTest, join, until, userFromQuery } from '../../support/fixtures.js';
import { inRoom } from '../../support/room-frames.js';
import { eventIs } from '../../support/ws-client.js';

@WebSocketGateway()
class CloserGateway {
  constructor(private readonly hub: RealtimeHub) {}

  /** Emits to the caller's room, then closes the caller, in one tick. */
  @SubscribeMessage('last-words')
  lastWords(@ConnectedSocket() client: WsConnection, @MessageBody() room: string) {
    void this.hub.to(room).emit('bye', client.userId);
    client.close(4500, 'done');
  }
}

/** Matches the reply to the frame of this id. */
const replyTo = (id: number) => (f: { event: string; id?: unknown }) =>
  f.event === 'rt:reply' && f.id === id;

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe('one frame per tick for clients that ask (?rt-batch=1)', () => {
    const rt = appForEachTest({ authenticate: userFromQuery }, { providers: [CloserGateway] });

    it('gathers a tick of messages into one rt:batch, in order, each with its room', async () => {
      const batching = await rt.harness.connect(`${rt.app.wsUrl}?user=b&rt-batch=1`);
      const plain = await rt.connect('p');
      await join(batching, 'r');
      await join(plain, 'r');
      for (let i = 0; i < 5; i++) void rt.hub.to('r').emit('n', i);
      const batch = await batching.next(eventIs('rt:batch'));
      expect(batch).toEqual({
        event: 'rt:batch',
        data: [0, 1, 2, 3, 4].map((i) => inRoom({ event: 'n', data: i, room: 'r' }, i + 1)),
      });
      const singles = await Promise.all([0, 1, 2, 3, 4].map(() => plain.next(eventIs('n'))));
      expect(singles.map((f) => f.data)).toEqual([0, 1, 2, 3, 4]);
      expect(await plain.collect(eventIs('rt:batch'))).toEqual([]);
    });

    it('sends a lone frame of a tick as it is', async () => {
      const batching = await rt.harness.connect(`${rt.app.wsUrl}?user=b&rt-batch=1`);
      await join(batching, 'r');
      await rt.hub.to('r').emit('one', 1);
      expect(await batching.next(eventIs('one'))).toEqual(
        inRoom({ event: 'one', data: 1, room: 'r' }, 1),
      );
    });

    it('keeps a reply in its place after the frames sent before it', async () => {
      const batching = await rt.harness.connect(`${rt.app.wsUrl}?user=b&rt-batch=1`);
      await join(batching, 'r');
      // The publish echoes to the sender before it is answered.
      batching.send({
        event: 'rt:publish',
        data: { room: 'r', event: 'x', data: 1, echo: true },
        id: 9,
      });
      // The echo and the reply may come in one batch (one tick), the echo first.
      const isReply = replyTo(9);
      await until(() =>
        batching.frames.some((f) => isReply(f) || (f.event === 'rt:batch' && f.data.some(isReply))),
      );
      const items = batching.frames.flatMap((f) => (f.event === 'rt:batch' ? f.data : [f]));
      expect(items).toEqual([
        inRoom({ event: 'x', data: 1, room: 'r' }, 1),
        { event: 'rt:reply', id: 9, data: { room: 'r', epoch: expect.any(String), offset: 1 } },
      ]);
    });

    it('writes what was sent before a close ahead of the close', async () => {
      const batching = await rt.harness.connect(`${rt.app.wsUrl}?user=b&rt-batch=1`);
      await join(batching, 'r');
      batching.send({ event: 'last-words', data: 'r' });
      expect(await batching.closed).toBe(4500);
      expect(batching.frames.find((f) => f.event === 'bye')).toEqual(
        inRoom({ event: 'bye', data: 'b', room: 'r' }, 1),
      );
    });
  });
});
