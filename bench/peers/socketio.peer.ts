import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { PING_INTERVAL, PONG_TIMEOUT, type PeerServer } from './peer.js';

/**
 * Socket.IO 4, websocket transport only, `io.to(room).emit`. Clients emit
 * `join` with the room and get `joined` back.
 */
export async function start(): Promise<PeerServer> {
  const http = createServer();
  const io = new Server(http, {
    transports: ['websocket'],
    pingInterval: PING_INTERVAL,
    pingTimeout: PONG_TIMEOUT,
    serveClient: false,
  });
  // crossnode: every node of the scenario on one Redis, through the official adapter.
  const redisUrl = process.env.BENCH_REDIS_URL;
  const pub = redisUrl ? new Redis(redisUrl) : undefined;
  const sub = pub?.duplicate();
  if (pub && sub) io.adapter(createAdapter(pub, sub));
  io.on('connection', (socket) => {
    socket.on('join', (room: string) => {
      void socket.join(room);
      socket.emit('joined', room);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    broadcast(room, count, payload) {
      for (let i = 0; i < count; i++) io.to(room).emit('msg', payload());
    },
    connections: () => io.engine.clientsCount,
    async close() {
      io.disconnectSockets(true);
      await new Promise((resolve) => io.close(resolve));
      await Promise.all([pub?.quit(), sub?.quit()]);
    },
  };
}
