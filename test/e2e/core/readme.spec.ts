// The README's quick start, as written there, must work: this test is that code.
import { Module } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WsException,
} from '@nestjs/websockets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../../lib/client/index.js';
import {
  CurrentUser,
  RealtimeHub,
  RealtimeModule,
  type RealtimePrincipal,
  type WsConnection,
} from '../../../lib/index.js';
import { listen, type TestApp } from '../../support/app.js';
import { withHarness } from '../../support/fixtures.js';

@WebSocketGateway()
class ChatGateway {
  constructor(private readonly hub: RealtimeHub) {}

  @SubscribeMessage('chat')
  async chat(
    @ConnectedSocket() client: WsConnection,
    @CurrentUser() user: RealtimePrincipal,
    @MessageBody() body: { room: string; text: string },
  ) {
    if (!client.rooms.has(body.room)) {
      throw new WsException({ code: 'NOT_IN_ROOM', message: 'join first' });
    }
    await this.hub
      .to(body.room)
      .except(client)
      .emit('chat', { from: user.userId, text: body.text });
    return { ok: true };
  }
}

@Module({
  imports: [
    RealtimeModule.forRoot({
      websocket: { path: '/ws', maxConnectionsPerUser: 5 },
      authenticate: async (request) => {
        const token = new URL(request.url ?? '/', 'http://localhost').searchParams.get('token');
        return token === 'secret' ? { userId: 'alice' } : null;
      },
      isGlobal: false,
    }),
  ],
  providers: [ChatGateway],
})
class AppModule {}

describe('README quick start', () => {
  const { handshake } = withHarness();
  let app: TestApp;
  beforeAll(async () => {
    app = await listen(AppModule);
  });
  afterAll(() => app.close());

  it('runs as written', async () => {
    const url = `ws://127.0.0.1:${app.port}/ws?token=secret`;
    const client = new RealtimeClient(url, { WebSocket });
    const other = new RealtimeClient(url, { WebSocket });
    await Promise.all([client.ready, other.ready]);
    const seen: unknown[] = [];
    other.on('chat', (message, { room }) => seen.push([room, message]));
    await expect(
      client.request('chat', { room: 'lobby', text: 'too early' }),
    ).rejects.toMatchObject({
      code: 'NOT_IN_ROOM',
    });
    await client.join('lobby');
    await other.join('lobby');
    expect(await client.request('chat', { room: 'lobby', text: 'hello' })).toEqual({ ok: true });
    await expect.poll(() => seen).toEqual([['lobby', { from: 'alice', text: 'hello' }]]);
    await Promise.all([client.close(), other.close()]);
  });

  it('refuses a client without the token with 401', async () => {
    const { status } = await handshake(`ws://127.0.0.1:${app.port}/ws`);
    expect(status).toBe(401);
  });
});
