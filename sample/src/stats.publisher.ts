import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { RealtimeHub } from 'nest-realtime';

/** The room the page's live panel follows over Server-Sent Events. */
export const STATS_ROOM = 'server-stats';

/**
 * Every two seconds, this node's figures to the `server-stats` room (volatile: a
 * reader that is behind skips some). The page shows them through an EventSource.
 */
@Injectable()
export class StatsPublisher implements OnModuleInit, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private readonly started = Date.now();

  constructor(private readonly hub: RealtimeHub) {}

  onModuleInit(): void {
    this.timer = setInterval(() => {
      const stats = {
        node: process.env.PORT ?? '3000',
        connections: this.hub.connections.count(),
        uptime: Math.round((Date.now() - this.started) / 1_000),
      };
      this.hub
        .to(STATS_ROOM)
        .volatile.emit('stats', stats)
        .catch(() => undefined);
    }, 2_000);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
