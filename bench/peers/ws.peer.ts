import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { PING_INTERVAL, type PeerServer } from './peer.js';

/**
 * A minimal idiomatic `ws` server: rooms as a Map of Sets, one pre-serialised
 * string sent to each socket, the usual ping/terminate heartbeat.
 * Clients send `{"join":"<room>"}` and get `{"joined":"<room>"}`.
 */
export function start(): Promise<PeerServer> {
  return startWs(false);
}

/**
 * The `ws` server; with `coalesce`, what a careful hand-written one does besides:
 * the first frame a socket gets in a tick corks its TCP socket, and every corked
 * socket is uncorked once the tick's work is done, so a burst costs each socket
 * one write (see ws-coalesced.peer.ts).
 */
export async function startWs(coalesce: boolean): Promise<PeerServer> {
  const http = createServer();
  const wss = new WebSocketServer({ server: http, path: '/ws' });
  const rooms = new Map<string, Set<WebSocket>>();
  const alive = new WeakSet<WebSocket>();

  /** Each socket's TCP socket, which ws keeps private (only when coalescing). */
  const tcpOf = new WeakMap<WebSocket, Duplex>();

  wss.on('connection', (socket, request) => {
    if (coalesce) tcpOf.set(socket, request.socket);
    alive.add(socket);
    socket.on('pong', () => alive.add(socket));
    socket.on('error', () => undefined);
    socket.on('message', (raw) => {
      const { join } = JSON.parse(raw.toString()) as { join?: string };
      if (!join) return;
      let room = rooms.get(join);
      if (!room) rooms.set(join, (room = new Set()));
      room.add(socket);
      socket.send(JSON.stringify({ joined: join }));
    });
    socket.on('close', () => {
      for (const room of rooms.values()) room.delete(socket);
    });
  });
  const heartbeat = setInterval(() => {
    for (const socket of wss.clients) {
      if (!alive.has(socket)) {
        socket.terminate();
        continue;
      }
      alive.delete(socket);
      socket.ping();
    }
  }, PING_INTERVAL);

  const corked = new Set<Duplex>();
  const uncork = () => {
    for (const tcp of corked) tcp.uncork();
    corked.clear();
  };
  const send = (socket: WebSocket, frame: string) => {
    if (coalesce) {
      const tcp = tcpOf.get(socket)!;
      if (!corked.has(tcp)) {
        if (corked.size === 0) process.nextTick(uncork);
        tcp.cork();
        corked.add(tcp);
      }
    }
    socket.send(frame);
  };

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    port: (http.address() as AddressInfo).port,
    broadcast(room, count, payload) {
      const members = rooms.get(room) ?? new Set();
      for (let i = 0; i < count; i++) {
        const frame = JSON.stringify({ event: 'msg', data: payload() });
        for (const socket of members) send(socket, frame);
      }
    },
    connections: () => wss.clients.size,
    async close() {
      clearInterval(heartbeat);
      for (const socket of wss.clients) socket.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await new Promise((resolve) => http.close(resolve));
    },
  };
}
