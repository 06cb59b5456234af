import { Injectable, Logger } from '@nestjs/common';
import { CloseCode } from '../../protocol/index.js';
import type { RealtimeConnection } from '../realtime-connection.js';
import { RealtimeHub } from '../realtime-hub.js';
import { logFailure } from '../../engines/engine-unavailable.error.js';
import type { RefusalReason } from '../metrics/realtime-metrics.js';
import { SpanKind } from '../tracing/realtime-tracing.js';

/**
 * A connection on its way to open, as every transport reports it: a refusal is counted
 * (`realtime_handshakes_refused_total`) and, like the open, ends its `realtime.handshake`
 * span (when a trace records it). The first of `refused`, `opened` and `end` counts.
 *
 * @example
 * ```ts
 * const handshake = lifecycle.handshake('websocket');
 * if (!allowed) return handshake.refused('origin');
 * handshake.opened(connection);
 * ```
 */
export interface ConnectionHandshake {
  refused(reason: RefusalReason): void;
  opened(connection: RealtimeConnection): void;
  /** Ends it without an outcome (the client went first, or the hook failed). */
  end(): void;
}

/**
 * The one connection lifecycle every transport calls (WebSocket, SSE, gRPC, data
 * channels): the per-user count its limits are checked against, attaching a new
 * connection to the hub (an engine that refuses it closes it with 1011), detaching a
 * closed one (it leaves its rooms on every node), and, at shutdown, waiting for those
 * removals, at most `shutdownTimeout`. Credentials that expire are the hub's: it
 * closes the connection with 4401 then, and the transport's close comes back here.
 *
 * @example
 * ```ts
 * if (lifecycle.countOf(userId, 'websocket') >= max) return refuse(4001);
 * lifecycle.attach(connection);
 * socket.once('close', () => lifecycle.detach(connection));
 * ```
 */
@Injectable()
export class ConnectionLifecycle {
  private readonly logger = new Logger('RealtimeConnections');
  constructor(private readonly hub: RealtimeHub) {}

  /** Follows a connection of `transport` from its request to its open, or its refusal. */
  handshake(transport: string): ConnectionHandshake {
    const { metrics, tracing } = this.hub;
    const span = tracing.start('realtime.handshake', SpanKind.Server, {
      'realtime.transport': transport,
    });
    let over = false;
    const finish = (outcome?: string, connection?: RealtimeConnection): boolean => {
      if (over) return false;
      over = true;
      if (outcome !== undefined) span?.set('realtime.outcome', outcome);
      if (connection) span?.set('realtime.connection', connection.id);
      span?.end();
      return true;
    };
    return {
      refused: (reason) => {
        if (finish(reason)) metrics.handshakeRefused(transport, reason);
      },
      opened: (connection) => void finish('accepted', connection),
      end: () => void finish(),
    };
  }

  /** This user's connections of one transport on this node: what per-user limits count. */
  countOf(userId: string, transport: string): number {
    let count = 0;
    for (const connection of this.hub.connections.listByUser(userId)) {
      if (connection.transport === transport) count++;
    }
    return count;
  }

  /**
   * Registers a new connection with the hub, synchronously (limits checked just
   * before cannot be raced). Resolves true once the engine knows it too; false when
   * the engine refused it, which closes it with 1011.
   */
  attach(connection: RealtimeConnection): Promise<boolean> {
    return this.hub.addConnection(connection).then(
      () => true,
      (error: unknown) => {
        logFailure(this.logger, `the engine refused a ${connection.transport} connection`, error);
        connection.close(CloseCode.InternalError, 'engine unavailable');
        return false;
      },
    );
  }

  /** A connection closed: it leaves its rooms and its user's channels, on every node. */
  detach(connection: RealtimeConnection): void {
    this.hub.removeConnection(connection).catch((error: unknown) => {
      logFailure(this.logger, `removing a ${connection.transport} connection failed`, error);
    });
  }

  /** Waits for the removals under way, at most `shutdownTimeout`: an engine that does not answer holds nothing. */
  async drain(): Promise<void> {
    await this.hub.removalsSettled(); // the hub tracks every removal, whoever started it
  }
}
