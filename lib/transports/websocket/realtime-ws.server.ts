import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocketServer, type WebSocket } from 'ws';
import { AuthenticationRefused, authenticateRequest } from '../../core/authenticate.js';
import { builtinHandlers } from '../../core/builtin-events.js';
import { PresenceService } from '../../core/presence/presence.service.js';
import { encodeFrame } from '../../core/frame.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import { CloseCode } from '../../core/realtime-error.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { BuiltinEvent, REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions, WebSocketOptions } from '../../realtime.options.js';
import { installRealtimeWsAdapter } from './realtime-ws.adapter.js';
import { rejectUpgrade } from './upgrade-response.js';
import { WsConnection, type WsConnectionShared } from './ws-connection.js';
import { WsHeartbeat } from './ws-heartbeat.js';

/** Called for every accepted connection; this is how gateways learn of clients. */
export type ConnectionListener = (connection: WsConnection, request: IncomingMessage) => void;

/**
 * The WebSocket transport: it takes upgrades on the app's HTTP port at
 * `websocket.path`, authenticates them, applies the connection limits, keeps the
 * heartbeat and hands each connection to the hub and to the app's gateways.
 * Gateways get it as their `@WebSocketServer()`.
 *
 * @example
 * ```ts
 * @WebSocketGateway()
 * export class Gateway {
 *   @WebSocketServer() server!: RealtimeWsServer;
 *   count() { return this.server.connections.size; }
 * }
 * ```
 */
@Injectable()
export class RealtimeWsServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** Where clients connect, or undefined when the transport is off. */
  readonly path: string | undefined;
  /** This server's open connections. */
  readonly connections = new Set<WsConnection>();

  private readonly logger = new Logger('RealtimeWebSocket');
  private readonly options: Readonly<Required<WebSocketOptions>> | false;
  private readonly wss: WebSocketServer | undefined;
  private readonly shared: WsConnectionShared;
  private readonly heartbeat: WsHeartbeat | undefined;
  private readonly listeners: ConnectionListener[] = [];
  private readonly removals = new Set<Promise<void>>();
  private httpServer: HttpServer | undefined;
  private pendingUpgrades = 0;
  private closing = false;

  constructor(
    private readonly hub: RealtimeHub,
    presence: PresenceService,
    @Inject(REALTIME_OPTIONS) private readonly realtimeOptions: ResolvedRealtimeOptions,
    private readonly httpAdapterHost: HttpAdapterHost,
    moduleRef: ModuleRef,
  ) {
    const options = (this.options = realtimeOptions.websocket);
    this.path = options ? options.path : undefined;
    this.shared = {
      builtins: builtinHandlers(hub, presence),
      maxBufferedBytes: options ? options.maxBufferedBytes : 0,
      maxPendingRequests: options ? options.maxPendingRequests : 0,
      closed: (connection) => this.onClosed(connection),
    };
    if (!options) return;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxPayload,
      perMessageDeflate: options.perMessageDeflate,
    });
    this.heartbeat = new WsHeartbeat(this.connections, options.pingInterval, options.pongTimeout);
    installRealtimeWsAdapter(moduleRef, this);
  }

  /** @internal Adds a listener for new connections (the adapter's `bindClientConnect`). */
  onConnection(listener: ConnectionListener): void {
    this.listeners.push(listener);
  }

  onApplicationBootstrap(): void {
    if (!this.options) return;
    const httpServer = this.httpAdapterHost.httpAdapter?.getHttpServer() as HttpServer | undefined;
    if (!httpServer) {
      this.logger.warn('the application has no HTTP server: the WebSocket transport is off');
      return;
    }
    this.httpServer = httpServer;
    httpServer.on('upgrade', this.onUpgrade);
    this.heartbeat!.start();
  }

  /** Closes every connection with 1001, then cuts those that do not answer in `closeTimeout`. */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.options) return;
    this.closing = true;
    this.httpServer?.off('upgrade', this.onUpgrade);
    this.heartbeat!.stop();
    for (const connection of this.connections)
      connection.close(CloseCode.GoingAway, 'server shutting down');
    const deadline = Date.now() + this.options.closeTimeout;
    while (this.connections.size > 0 && Date.now() < deadline) await delay(10);
    for (const connection of this.connections) connection.socket.terminate();
    while (this.connections.size > 0) await delay(1);
    await Promise.all(this.removals);
  }

  private readonly onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathnameOf(request) !== this.path) {
      // Another listener may own that path; if there is none, do not leave the client hanging.
      if (this.httpServer!.listenerCount('upgrade') === 1) rejectUpgrade(socket, 404, 'Not Found');
      return;
    }
    socket.on('error', destroy);
    this.accept(request, socket, head).catch((error: unknown) => {
      this.logger.error('upgrade failed', error instanceof Error ? error.stack : error);
      rejectUpgrade(socket, 500, 'Internal Server Error');
    });
  };

  private async accept(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const options = this.options as Required<WebSocketOptions>;
    if (this.hub.connections.count() + this.pendingUpgrades >= options.maxConnections) {
      this.refuse(request, socket, head, CloseCode.ServerFull, 'server is full');
      return;
    }
    let principal: RealtimePrincipal;
    this.pendingUpgrades++;
    try {
      principal = await authenticateRequest(this.realtimeOptions.authenticate, request);
    } catch (error) {
      if (!(error instanceof AuthenticationRefused)) throw error;
      rejectUpgrade(socket, error.status, error.message);
      return;
    } finally {
      this.pendingUpgrades--;
    }
    if (socket.destroyed) return; // the client gave up while we authenticated it
    if (this.closing) {
      rejectUpgrade(socket, 503, 'Service Unavailable: shutting down');
      return;
    }
    const { userId } = principal;
    if (
      userId !== undefined &&
      this.hub.connections.countByUser(userId) >= options.maxConnectionsPerUser
    ) {
      this.refuse(
        request,
        socket,
        head,
        CloseCode.UserConnectionLimit,
        'too many connections for this user',
      );
      return;
    }
    socket.off('error', destroy);
    // handleUpgrade calls back synchronously (no verifyClient), so nothing can slip
    // between the limit checks above and the registration in open().
    this.wss!.handleUpgrade(request, socket, head, (ws) => this.open(ws, request, principal));
  }

  /** Completes the handshake only to close at once with a documented code. */
  private refuse(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    code: number,
    reason: string,
  ): void {
    socket.off('error', destroy);
    this.wss!.handleUpgrade(request, socket, head, (ws) => ws.close(code, reason));
  }

  private open(ws: WebSocket, request: IncomingMessage, principal: RealtimePrincipal): void {
    const options = this.options as Required<WebSocketOptions>;
    const connection = new WsConnection(
      this.hub.nextConnectionId(),
      principal,
      ws,
      request,
      this.shared,
    );
    this.connections.add(connection);
    this.hub.addConnection(connection).catch((error: unknown) => {
      this.logger.error(
        'engine refused a connection',
        error instanceof Error ? error.stack : error,
      );
      connection.close(1011, 'engine unavailable');
    });
    connection.send(
      encodeFrame({
        event: BuiltinEvent.Connected,
        data: {
          connectionId: connection.id,
          userId: connection.userId ?? null,
          pingInterval: options.pingInterval,
          pongTimeout: options.pongTimeout,
        },
      }),
    );
    for (const listener of this.listeners) listener(connection, request);
  }

  private onClosed(connection: WsConnection): void {
    this.connections.delete(connection);
    const removal = this.hub
      .removeConnection(connection)
      .catch((error: unknown) => {
        this.logger.error(
          'engine failed to remove a connection',
          error instanceof Error ? error.stack : error,
        );
      })
      .finally(() => this.removals.delete(removal));
    this.removals.add(removal);
  }
}

function pathnameOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function destroy(this: Duplex): void {
  this.destroy();
}
