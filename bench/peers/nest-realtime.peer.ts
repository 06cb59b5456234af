import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WsException,
} from '@nestjs/websockets';
import type { AddressInfo } from 'node:net';
import { RealtimeHub, RealtimeModule, RealtimeWsAdapter, type WsConnection } from 'nest-realtime';
import { connectRealtimeGrpc } from 'nest-realtime/grpc';
import { BENCH_ROOM, PING_INTERVAL, PONG_TIMEOUT, type PeerServer } from './peer.js';

/** gRPC is served only when the scenario asks for it (BENCH_GRPC_PORT). */
const grpcPort = process.env.BENCH_GRPC_PORT;

/** A gateway, as every app has: each connection binds its handlers. */
@WebSocketGateway()
class SayGateway {
  constructor(private readonly hub: RealtimeHub) {}

  /** Says `text` to the rest of a room the client is in. */
  @SubscribeMessage('say')
  say(
    @ConnectedSocket() client: WsConnection,
    @MessageBody() body: { room: string; text: string },
  ) {
    if (!client.rooms.has(body.room)) throw new WsException({ code: 'NOT_IN_ROOM' });
    return this.hub.to(body.room).except(client).emit('say', body.text);
  }
}

@Module({
  imports: [
    // The configuration the README teaches: authenticated users, presence on (the
    // default), history kept for the room, a gateway, every limit at its default. The bench's
    // publisher is the server itself (`hub.to(room).emit`), which no client rate
    // limit applies to, so no limit is changed (but for the one scenario whose
    // publisher is a client, below).
    RealtimeModule.forRoot({
      websocket: { path: '/ws', pingInterval: PING_INTERVAL, pongTimeout: PONG_TIMEOUT },
      authenticate: (request) => userOf(request.headers.authorization),
      history: { rooms: { [BENCH_ROOM]: { maxCount: 200, maxAge: 600_000 } } },
      ...(grpcPort && { grpc: { url: `127.0.0.1:${grpcPort}` } }),
      // grpc-publish-stream-heap: the publisher is a client, 65,000 messages as fast as
      // it may, which the default limit (100 a second) would mostly refuse; its figure
      // is what the server keeps for each message it publishes.
      ...(process.env.BENCH_RATE_LIMIT === 'off' && { rateLimit: false }),
      // metrics-cost: the same app with Prometheus metrics served at /metrics.
      ...(process.env.BENCH_METRICS === 'prometheus' && {
        metrics: { type: 'prometheus', path: '/metrics' },
      }),
      // crossnode: every node of the scenario on one Redis.
      ...(process.env.BENCH_REDIS_URL && {
        engine: { type: 'redis', url: process.env.BENCH_REDIS_URL, prefix: 'bench:' },
      }),
    }),
  ],
  providers: [SayGateway],
})
class BenchModule {}

/** Bench clients say who they are with `authorization: Bearer <userId>`. */
function userOf(authorization: string | string[] | undefined): { userId: string } | null {
  const value = Array.isArray(authorization) ? authorization[0] : authorization;
  return value?.startsWith('Bearer ') ? { userId: value.slice(7) } : null;
}

/**
 * nest-realtime through a real Nest app (Express) with RealtimeModule, as the
 * README sets it up: clients join with the built-in `rt:join` (WebSocket), the SSE
 * endpoint or gRPC `Subscribe`; the server broadcasts with `hub.to(room).emit`.
 */
export async function start(): Promise<PeerServer> {
  const app = await NestFactory.create(BenchModule, { logger: ['error', 'warn'] });
  app.useWebSocketAdapter(new RealtimeWsAdapter(app));
  if (grpcPort) await connectRealtimeGrpc(app);
  await app.listen(0, '127.0.0.1');
  const hub = app.get(RealtimeHub);
  return {
    port: (app.getHttpServer().address() as AddressInfo).port,
    broadcast(room, count, payload) {
      const operator = hub.to(room);
      for (let i = 0; i < count; i++) void operator.emit('msg', payload());
    },
    connections: () => hub.connections.count(),
    close: () => app.close(),
  };
}
