import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { RealtimeHub, RealtimeModule } from 'nest-realtime';
import { PING_INTERVAL, PONG_TIMEOUT, type PeerServer } from './peer.js';

@Module({
  imports: [
    RealtimeModule.forRoot({
      websocket: { path: '/ws', pingInterval: PING_INTERVAL, pongTimeout: PONG_TIMEOUT },
      // Anonymous clients have no presence; the bench measures rooms and broadcast.
      presence: false,
      // crossnode: every node of the scenario on one Redis.
      ...(process.env.BENCH_REDIS_URL && {
        engine: { type: 'redis', url: process.env.BENCH_REDIS_URL, prefix: 'bench:' },
      }),
    }),
  ],
})
class BenchModule {}

/**
 * nest-realtime through a real Nest app (Express) with RealtimeModule: clients
 * join with the built-in `rt:join`; the server broadcasts with `hub.to(room).emit`.
 */
export async function start(): Promise<PeerServer> {
  const app = await NestFactory.create(BenchModule, { logger: ['error', 'warn'] });
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
