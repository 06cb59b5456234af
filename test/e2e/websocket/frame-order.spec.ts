// A connection's frames take effect in the order they were sent, and their replies
// come back in that order (docs/protocol.md, "Flow control"): a client may pipeline
// commands without waiting for each answer.
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RpcService, WsConnection } from '../../../lib/index.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { ENGINES, engineFixture } from '../../support/engines.js';
import { userFromQuery } from '../../support/fixtures.js';
import type { Frame, TestClient } from '../../support/ws-client.js';

@WebSocketGateway()
class OrderGateway {
  constructor(private readonly rpc: RpcService) {}

  /** Answers after a random wait: a later frame must still wait for it. */
  @SubscribeMessage('slow')
  async slow(@MessageBody() n: number) {
    await delay(Math.floor(Math.random() * 5));
    return n;
  }

  /** Waits for the client to answer a server call: its reply must not wait behind this. */
  @SubscribeMessage('ask-back')
  async askBack(@ConnectedSocket() client: WsConnection) {
    return this.rpc.call(client, 'confirm', null, { timeout: 5_000 });
  }
}

/** The replies among a client's frames, once `count` have come. */
async function replies(client: TestClient, count: number): Promise<Frame[]> {
  const got: Frame[] = [];
  while (got.length < count) got.push(await client.next((f) => f.event === 'rt:reply', 10_000));
  return got;
}

describe.each(PLATFORMS)('over %s', (platform) => {
  usePlatform(platform);

  describe.each(ENGINES)('frame order on $name', (engine) => {
    const rt = engineFixture(
      engine,
      { authenticate: userFromQuery },
      { providers: [OrderGateway] },
    );
    const client = (): Promise<TestClient> => rt.connect('ann');

    it('runs a pipelined join, publish and leave of each room in order, with no waiting', async () => {
      const ann = await client();
      const rooms = Array.from({ length: 30 }, (_, i) => `room-${i}`);
      let id = 0;
      for (const room of rooms) {
        ann.send({ event: 'rt:join', data: { room }, id: ++id });
        ann.send({
          event: 'rt:publish',
          data: { room, event: 'm', data: room },
          id: ++id,
        });
        ann.send({ event: 'rt:leave', data: { room }, id: ++id });
      }
      const answers = await replies(ann, id);
      expect(answers.map((reply) => reply.id)).toEqual(Array.from({ length: id }, (_, i) => i + 1));
      expect(answers.filter((reply) => reply.error)).toEqual([]);
      rooms.forEach((room, i) => {
        const [joined, published, left] = answers.slice(i * 3, i * 3 + 3);
        expect(joined!.data).toMatchObject({ name: room, offset: 0 });
        // Published as a member (else NOT_IN_ROOM): the join had taken effect.
        expect(published!.data).toMatchObject({ room, offset: 1 });
        expect(left!.data).toEqual({ room, left: true });
      });
    });

    it('answers application events and built-in ones in the order they were sent', async () => {
      const ann = await client();
      let id = 0;
      for (let i = 0; i < 40; i++) {
        ann.send({ event: 'slow', data: i, id: ++id });
        ann.send({ event: 'rt:join', data: { room: `r${i}` }, id: ++id });
      }
      const answers = await replies(ann, id);
      expect(answers.map((reply) => reply.id)).toEqual(Array.from({ length: id }, (_, i) => i + 1));
      expect(answers.filter((_, i) => i % 2 === 0).map((reply) => reply.data)).toEqual(
        Array.from({ length: 40 }, (_, i) => i),
      );
    });

    it("reads the client's reply to a server call while the handler that made it waits", async () => {
      const ann = await client();
      ann.send({ event: 'ask-back', id: 'q' });
      const call = await ann.next((f) => f.event === 'rt:call');
      // Sent after a frame that queues behind ask-back: the reply must not queue.
      ann.send({ event: 'rt:join', data: { room: 'after' }, id: 'j' });
      ann.send({ event: 'rt:reply', id: call.id, data: 'yes' });
      const [first, second] = await replies(ann, 2);
      expect(first).toEqual({ event: 'rt:reply', id: 'q', data: 'yes' });
      expect(second).toMatchObject({ id: 'j', data: { name: 'after' } });
    });
  });
});
