import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WsException,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import { CurrentUser, RealtimeHub, type RealtimePrincipal, type WsConnection } from 'nest-realtime';

interface ChatMessage {
  room: string;
  text: string;
}

/**
 * The sample's own gateway: everything realtime it does goes through the hub.
 * Rooms are joined with the built-in `rt:join`; `chat` is the app's own event.
 */
@WebSocketGateway()
export class ChatGateway implements OnGatewayConnection, OnGatewayDisconnect {
  constructor(private readonly hub: RealtimeHub) {}

  // The hooks return their promise: a failure (Redis down, say) is then the library's to
  // log. Discarded with `void`, it would be an unhandled rejection, which ends Node.
  async handleConnection(client: WsConnection): Promise<void> {
    await this.hub.emit('online', { count: this.hub.connections.count(), joined: client.userId });
  }

  async handleDisconnect(client: WsConnection): Promise<void> {
    await this.hub
      .except(client)
      .emit('online', { count: this.hub.connections.count() - 1, left: client.userId });
  }

  /** Someone is typing: the room's others hear it (volatile: late news is no news). */
  @SubscribeMessage('typing')
  async typing(@ConnectedSocket() client: WsConnection, @MessageBody() body: { room?: unknown }) {
    if (typeof body?.room !== 'string' || !client.rooms.has(body.room)) return;
    await this.hub.to(body.room).except(client).volatile.emit('typing', { from: client.userId });
  }

  @SubscribeMessage('chat')
  async chat(
    @ConnectedSocket() client: WsConnection,
    @CurrentUser() user: RealtimePrincipal,
    @MessageBody() body: ChatMessage,
  ) {
    if (typeof body?.text !== 'string' || body.text.trim() === '' || body.text.length > 2_000) {
      throw new WsException({ code: 'BAD_MESSAGE', message: 'text must be 1 to 2000 characters' });
    }
    if (!client.rooms.has(body.room)) {
      throw new WsException({ code: 'NOT_IN_ROOM', message: `join "${body.room}" first` });
    }
    const message = { from: user.userId, text: body.text.trim(), at: Date.now() };
    await this.hub.to(body.room).emit('chat', message);
    return message;
  }
}
