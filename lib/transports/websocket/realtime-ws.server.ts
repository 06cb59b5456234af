import {
  Inject,
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { HttpAdapterHost, ModulesContainer } from '@nestjs/core';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { WebSocketServer, type WebSocket } from 'ws';
import { AuthenticationRefused, authenticateRequest } from '../../core/authenticate.js';
import { FrameDispatcher } from '../../core/events/frame-dispatcher.js';
import {
  ConnectionLifecycle,
  type ConnectionHandshake,
} from '../../core/lifecycle/connection-lifecycle.js';
import { originAllowed } from '../origin-policy.js';
import {
  encodeFrame,
  CloseCode,
  BuiltinEvent,
  closeReason,
  refusalClose,
  protocolOptionsOf,
  type ProtocolOptions,
} from '../../protocol/index.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { refusalReasonOf } from '../../core/metrics/realtime-metrics.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import type { WebSocketOptions } from './websocket.options.js';
import { guardGatewayHooks } from './gateway-hooks.js';
import { upgradeRequestOf } from './upgrade-request.js';
import { rejectUpgrade } from './upgrade-response.js';
import { ConnectionSocket, WsConnection, type WsConnectionShared } from './ws-connection.js';
import { TextFramer } from './text-framer.js';
import { WriteCoalescer } from '../write-coalescer.js';
import { WsHeartbeat } from './ws-heartbeat.js';

/** Called for every accepted connection; this is how gateways learn of clients. */
export type ConnectionListener = (connection: WsConnection, request: IncomingMessage) => void;

/** A handshake on its way: what is needed to complete it, or to refuse it. */
interface Handshake {
  readonly request: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
  readonly protocol: ProtocolOptions;
  /** Its refusal is counted, and its span ended, through this. */
  readonly outcome: ConnectionHandshake;
}

/**
 * The WebSocket transport: it takes the upgrades that {@link RealtimeWsAdapter}
 * routes to it from the app's HTTP port at `websocket.path`, authenticates them,
 * applies the connection limits, keeps the heartbeat and hands each connection to
 * the hub and to the app's gateways. Gateways get it as their `@WebSocketServer()`.
 *
 * @example
 * ```ts
 * @WebSocketGateway()
 * export class Gateway {
 *   @WebSocketServer() server!: RealtimeWsServer;
 *   count() { return this.server.clients.size; }
 * }
 * ```
 */
@Injectable()
export class RealtimeWsServer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** Where clients connect, or undefined when the transport is off. */
  readonly path: string | undefined;
  /** This server's open connections (the hub's registry lists every transport's). */
  readonly clients = new Set<WsConnection>();

  private readonly logger = new Logger('RealtimeWebSocket');
  private readonly options: Readonly<Required<WebSocketOptions>> | false;
  private readonly wss: WebSocketServer | undefined;
  private readonly shared: WsConnectionShared;
  private readonly heartbeat: WsHeartbeat | undefined;
  private readonly listeners: ConnectionListener[] = [];
  /** Handshakes being authenticated, until they are answered. */
  private readonly pending = new Map<Duplex, Handshake>();
  /** Sockets refused with a close code, until they are closed. */
  private readonly refused = new Set<WebSocket>();
  private closing = false;
  private gatewaysPrepared = false;
  /** Whether the app's WebSocket adapter sends this server its upgrades. */
  private isRouted = false;

  constructor(
    private readonly hub: RealtimeHub,
    dispatcher: FrameDispatcher,
    private readonly lifecycle: ConnectionLifecycle,
    @Inject(REALTIME_OPTIONS) private readonly realtimeOptions: ResolvedRealtimeOptions,
    private readonly httpAdapterHost: HttpAdapterHost,
    private readonly modules: ModulesContainer,
  ) {
    const options = (this.options = realtimeOptions.websocket);
    this.path = options ? options.path : undefined;
    this.shared = {
      dispatcher,
      maxBufferedBytes: options ? options.maxBufferedBytes : 0,
      maxPendingRequests: options ? options.maxPendingRequests : 0,
      closeTimeout: options ? options.closeTimeout : 0,
      rateLimit: realtimeOptions.rateLimit,
      rateLimited: hub.metrics.framesDropped.cell('websocket', 'rate_limited'),
      inbound: WsConnection.inboundOptions(options ? options.maxPendingRequests : 0),
      coalescer: new WriteCoalescer(),
      framer: new TextFramer(),
      closed: (connection) => this.onClosed(connection),
    };
    if (!options) return;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: options.maxPayload,
      perMessageDeflate: options.perMessageDeflate,
      WebSocket: ConnectionSocket,
    });
    this.heartbeat = new WsHeartbeat(this.clients, options.pingInterval, options.pongTimeout);
  }

  /**
   * @internal Called by the adapter when Nest connects the first gateway, once
   * every gateway exists and before Nest binds their hooks.
   */
  prepareGateways(): void {
    if (this.gatewaysPrepared) return;
    this.gatewaysPrepared = true;
    guardGatewayHooks(this.modules);
  }

  /** @internal Adds a listener for new connections (the adapter's `bindClientConnect`). */
  onConnection(listener: ConnectionListener): void {
    this.listeners.push(listener);
  }

  /** @internal Called by {@link RealtimeWsAdapter} once it sends this server the upgrades of its path. */
  routed(): void {
    this.isRouted = true;
  }

  /**
   * Starts the heartbeat; fails the start when the app's WebSocket adapter is not
   * {@link RealtimeWsAdapter}, which would leave `websocket.path` unserved.
   */
  onApplicationBootstrap(): void {
    if (!this.options) return;
    const httpServer = this.httpAdapterHost.httpAdapter?.getHttpServer() as HttpServer | undefined;
    if (!httpServer) {
      this.logger.warn('the application has no HTTP server: the WebSocket transport is off');
      return;
    }
    if (!this.isRouted) {
      throw new Error(
        `nest-realtime: the WebSocket transport ("${this.path}") needs RealtimeWsAdapter, and the ` +
          `app's WebSocket adapter is another one (or none). Call ` +
          `app.useWebSocketAdapter(new RealtimeWsAdapter(app)) before app.listen(); to keep ` +
          `another adapter's gateways (Socket.IO's), give it as the fallback: ` +
          `new RealtimeWsAdapter(app, { fallback: new IoAdapter(app) }). Or set websocket: false.`,
      );
    }
    this.heartbeat!.start();
  }

  /**
   * Refuses handshakes in progress (503, or 1013 for `rt-refuse=close`), closes every
   * connection with 1001, then cuts those that have not answered within `closeTimeout`.
   */
  async beforeApplicationShutdown(): Promise<void> {
    if (!this.options) return;
    this.closing = true;
    this.heartbeat!.stop();
    for (const ws of this.refused) ws.terminate();
    // After the line above: those refused now with a close get closeTimeout to answer it.
    for (const handshake of this.pending.values()) {
      this.decline(handshake, 503, 'Service Unavailable: shutting down');
    }
    this.pending.clear();
    for (const client of this.clients) client.close(CloseCode.GoingAway, 'server shutting down');
    await this.untilClosed(this.options.closeTimeout);
    for (const client of this.clients) client.socket.terminate();
    for (const ws of this.refused) ws.terminate();
    await this.untilClosed(this.options.closeTimeout);
    await this.lifecycle.drain();
  }

  private async untilClosed(timeout: number): Promise<void> {
    const deadline = Date.now() + timeout;
    while (this.clients.size + this.refused.size > 0 && Date.now() < deadline) await delay(5);
  }

  /**
   * @internal Takes a handshake on `path` (the adapter routes them here): refused
   * with 503 once shutting down, else authenticated and limited as the options say.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const outcome = this.lifecycle.handshake('websocket');
    if (!isWebSocketHandshake(request)) {
      outcome.refused('invalid');
      rejectUpgrade(socket, 400, 'Bad Request: not a WebSocket handshake');
      return;
    }
    socket.on('error', destroy);
    const handshake: Handshake = {
      request,
      socket,
      head,
      protocol: protocolOptionsOf(request),
      outcome,
    };
    this.accept(handshake)
      .catch((error: unknown) => {
        this.logger.error('upgrade failed', error instanceof Error ? error.stack : error);
        outcome.refused('error');
        rejectUpgrade(socket, 500, 'Internal Server Error');
      })
      .finally(() => outcome.end()); // a client that gave up, or a shutdown, ends it here
  }

  private async accept(handshake: Handshake): Promise<void> {
    const { request, socket, head, outcome } = handshake;
    const options = this.options as Required<WebSocketOptions>;
    // Before anything else: a page of another site does not get to authenticate (its
    // cookies would ride along: cross-site WebSocket hijacking).
    if (!originAllowed(request, this.realtimeOptions.origins)) {
      outcome.refused('origin');
      this.decline(handshake, 403, 'Forbidden: this origin may not connect');
      return;
    }
    // The WebSocket limits count WebSocket connections (SSE streams have their own).
    if (this.clients.size + this.pending.size >= options.maxConnections) {
      outcome.refused('server_full');
      this.refuse(request, socket, head, CloseCode.ServerFull, 'server is full');
      return;
    }
    let principal: RealtimePrincipal;
    this.pending.set(socket, handshake);
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(new AuthenticationRefused(503, 'Service Unavailable: authentication timed out')),
          options.handshakeTimeout,
        );
      });
      principal = await Promise.race([
        authenticateRequest(this.realtimeOptions.authenticate, request),
        timeout,
      ]);
    } catch (error) {
      if (!this.pending.delete(socket)) return; // shutdown has refused it
      if (!(error instanceof AuthenticationRefused)) throw error;
      outcome.refused(refusalReasonOf(error.status));
      this.decline(handshake, error.status, error.message);
      return;
    } finally {
      clearTimeout(timer);
    }
    if (!this.pending.delete(socket)) return; // shutdown has refused it
    if (socket.destroyed) return; // the client gave up
    if (this.closing) {
      outcome.refused('unavailable');
      this.decline(handshake, 503, 'Service Unavailable: shutting down');
      return;
    }
    const { userId } = principal;
    if (
      userId !== undefined &&
      this.lifecycle.countOf(userId, 'websocket') >= options.maxConnectionsPerUser
    ) {
      outcome.refused('user_limit');
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
    this.wss!.handleUpgrade(request, socket, head, (ws) => {
      const connection = this.open(ws, request, principal, socket, handshake.protocol);
      outcome.opened(connection);
    });
  }

  /**
   * Refuses a handshake with an HTTP status, or, for a client that asked with
   * `rt-refuse=close` (a browser cannot read the status), with the close code that
   * stands for it (see {@link refusalClose}).
   */
  private decline(
    { request, socket, head, protocol }: Handshake,
    status: number,
    message: string,
  ): void {
    if (!protocol.refuseWithClose) {
      rejectUpgrade(socket, status, message);
      return;
    }
    if (socket.destroyed) return;
    const { code, reason } = refusalClose(status, message);
    this.refuse(request, socket, head, code, reason);
  }

  /**
   * Completes the handshake only to close at once with a documented code; a client
   * that does not answer the close is cut after `closeTimeout`.
   */
  private refuse(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    code: number,
    reason: string,
  ): void {
    socket.off('error', destroy);
    this.wss!.handleUpgrade(request, socket, head, (ws) => {
      ws.on('error', () => undefined); // whatever it sends now is of no interest
      this.refused.add(ws);
      const cut = setTimeout(() => ws.terminate(), (this.options as WebSocketOptions).closeTimeout);
      cut.unref();
      ws.once('close', () => {
        clearTimeout(cut);
        this.refused.delete(ws);
      });
      ws.close(code, closeReason(reason));
    });
  }

  private open(
    ws: WebSocket,
    request: IncomingMessage,
    principal: RealtimePrincipal,
    socket: Duplex,
    protocol: ProtocolOptions,
  ): WsConnection {
    const options = this.options as Required<WebSocketOptions>;
    const connection = new WsConnection(
      this.hub.nextConnectionId(),
      principal,
      ws,
      upgradeRequestOf(request),
      this.shared,
      socket,
      protocol,
    );
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
    this.clients.add(connection);
    void this.lifecycle.attach(connection);
    for (const listener of this.listeners) {
      try {
        listener(connection, request);
      } catch (error) {
        this.logger.error('handleConnection failed', error instanceof Error ? error.stack : error);
      }
    }
    return connection;
  }

  private onClosed(connection: WsConnection): void {
    this.clients.delete(connection);
    this.lifecycle.detach(connection);
  }
}

/** The headers without which ws would refuse the handshake: checked before `authenticate` runs. */
function isWebSocketHandshake(request: IncomingMessage): boolean {
  const { headers } = request;
  return (
    request.method === 'GET' &&
    headers.upgrade?.toLowerCase() === 'websocket' &&
    typeof headers['sec-websocket-key'] === 'string' &&
    headers['sec-websocket-version'] === '13'
  );
}

function destroy(this: Duplex): void {
  this.destroy();
}
