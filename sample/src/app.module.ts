import { Module } from '@nestjs/common';
import { RealtimeModule } from 'nest-realtime';
import { ChatGateway } from './chat.gateway.js';
import { STATS_ROOM, StatsPublisher } from './stats.publisher.js';
import { TokenController, authenticateToken } from './tokens.js';

/** Where the sample serves gRPC (several nodes on one host need one each). */
export const GRPC_PORT = process.env.GRPC_PORT ?? '50051';

@Module({
  imports: [
    RealtimeModule.forRoot({
      websocket: { path: '/ws', maxConnectionsPerUser: 10 },
      // One node in memory; with REDIS_URL, any number of nodes on one Redis
      // (`REDIS_URL=redis://localhost:6379 PORT=3001 node sample/dist/main.js`, and so on).
      engine: process.env.REDIS_URL
        ? { type: 'redis', url: process.env.REDIS_URL, prefix: 'sample:' }
        : { type: 'memory' },
      // Rooms keep their last 100 messages (10 minutes): new members see the recent
      // ones, and a page that lost its connection gets what it missed.
      history: { maxCount: 100, maxAge: 600_000 },
      // Video calls: peer to peer, or through the server's own peer. No STUN or TURN
      // server is listed, so nothing leaves this machine; loopback is offered too, for
      // a browser on the same host (Chromium: --allow-loopback-in-peer-connection).
      webrtc: { hostAddresses: ['127.0.0.1'] },
      // The gRPC API beside HTTP (main.ts connects it): GRPC_PORT, or 50051; 'off' for none.
      ...(GRPC_PORT !== 'off' && { grpc: { url: `127.0.0.1:${GRPC_PORT}` } }),
      // Clients may publish past the chat handler too (rt:publish, gRPC Publish): a chat
      // message must then be the sender's own, and the server's events stay the server's.
      authorize: {
        canPublish: (principal, room, { event, data }) => {
          if (room === STATS_ROOM || event === 'typing' || event === 'stats') return false;
          if (event !== 'chat') return true;
          const { from, text } = (data ?? {}) as { from?: unknown; text?: unknown };
          return (
            from === principal.userId &&
            typeof text === 'string' &&
            text.trim() !== '' &&
            text.length <= 2_000
          );
        },
      },
      // A signed token (a JWT) in the URL, or as gRPC metadata: see tokens.ts.
      authenticate: authenticateToken,
    }),
  ],
  providers: [ChatGateway, StatsPublisher],
  controllers: [TokenController],
})
export class AppModule {}
