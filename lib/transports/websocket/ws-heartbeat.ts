import { performance } from 'node:perf_hooks';
import type { WsConnection } from './ws-connection.js';

/**
 * Pings every connection each `pingInterval`, and `pongTimeout` after each round
 * terminates those that have not answered. Two timers for the whole server, not two
 * per socket; a connection with a ping still unanswered is not pinged again. A ping
 * is a WebSocket ping answered by a pong, or, for a client that asked with
 * `rt-ping=1`, an `rt:ping` frame answered by any frame (see WsConnection.ping).
 */
export class WsHeartbeat {
  private round: NodeJS.Timeout | undefined;
  private readonly checks = new Set<NodeJS.Timeout>();

  constructor(
    private readonly connections: ReadonlySet<WsConnection>,
    private readonly pingInterval: number,
    private readonly pongTimeout: number,
  ) {}

  start(): void {
    this.round = setInterval(() => this.pingAll(), this.pingInterval);
    this.round.unref();
  }

  stop(): void {
    clearInterval(this.round);
    for (const check of this.checks) clearTimeout(check);
    this.checks.clear();
  }

  private pingAll(): void {
    const sentAt = performance.now();
    for (const connection of this.connections) connection.ping(sentAt);
    const check = setTimeout(() => {
      this.checks.delete(check);
      for (const connection of this.connections) {
        if (connection.missedPing(sentAt)) connection.socket.terminate();
      }
    }, this.pongTimeout);
    check.unref();
    this.checks.add(check);
  }
}
