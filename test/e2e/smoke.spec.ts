import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
} from '@nestjs/websockets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealtimeHub, type WsConnection } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { TestClient } from '../support/ws-client.js';

@WebSocketGateway()
class ChatGateway {
  constructor(private readonly hub: RealtimeHub) {}

  @SubscribeMessage('chat')
  chat(
    @ConnectedSocket() client: WsConnection,
    @MessageBody() body: { room: string; text: string },
  ) {
    return this.hub.to(body.room).except(client).emit('chat', body);
  }
}

describe('smoke', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startApp({}, { providers: [ChatGateway] });
  });
  afterAll(() => app.close());

  it('joins and chats', async () => {
    const a = await TestClient.connect(app.wsUrl);
    const b = await TestClient.connect(app.wsUrl);
    expect((await a.request('rt:join', { room: 'r' })).data).toMatchObject({ name: 'r', size: 1 });
    expect((await b.request('rt:join', { room: 'r' })).data).toMatchObject({ name: 'r', size: 2 });
    const reply = await a.request('chat', { room: 'r', text: 'hi' });
    expect(reply.data).toBeNull();
    expect(await b.next((f) => f.event === 'chat')).toEqual({
      event: 'chat',
      data: { room: 'r', text: 'hi' },
      room: 'r',
    });
    await a.close();
    await b.close();
  });
});
