import {
  Logger,
  type INestApplicationContext,
  type WebSocketAdapter,
  type WsMessageHandler,
} from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Observable } from 'rxjs';
import { BUILTIN_GATEWAY_PATH } from './realtime.gateway.js';
import { RealtimeWsServer } from './realtime-ws.server.js';
import { rejectUpgrade } from './upgrade-response.js';
import { WsConnection } from './ws-connection.js';

/**
 * How {@link RealtimeWsAdapter} treats the app's gateways that are not realtime ones.
 *
 * @example
 * ```ts
 * app.useWebSocketAdapter(new RealtimeWsAdapter(app, { fallback: new IoAdapter(app) }));
 * ```
 */
export interface RealtimeWsAdapterOptions {
  /**
   * The adapter of the app's other gateways (Socket.IO's `IoAdapter`, say): those
   * with a `namespace`, a `port`, or a `path` other than `websocket.path`. Without
   * one, such a gateway on another path or port is a plain `@nestjs/platform-ws`
   * server, and one with a namespace stops the start with an error.
   */
  readonly fallback?: WebSocketAdapter;
}

/** A gateway's options as Nest hands them to `create`. */
type GatewayOptions = Record<string, unknown> & { path?: string; namespace?: unknown };

/** What `create` answers for the module's built-in gateway: it needs no server of its own. */
const BUILTIN_SERVER = Object.freeze({ builtin: true });

const UNDERLYING_PORT = 0;
const logger = new Logger('RealtimeWebSocket');

/**
 * The WebSocket adapter of an app that imports RealtimeModule, built on
 * `@nestjs/platform-ws`'s `WsAdapter`. Gateways on the HTTP port with no path (or
 * `websocket.path`) run on the realtime server: their `@SubscribeMessage`
 * handlers, guards, pipes, filters and `handleConnection`/`handleDisconnect` work
 * on its connections, and `@WebSocketServer()` is the {@link RealtimeWsServer}.
 * Other gateways go to `options.fallback`, or are plain platform-ws servers.
 * Install it as any Nest WebSocket adapter, before `app.listen()`.
 *
 * @example
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new RealtimeWsAdapter(app));
 * await app.listen(3000);
 * ```
 */
export class RealtimeWsAdapter extends WsAdapter {
  private realtime: RealtimeWsServer | undefined;
  private readonly fallbackServers = new WeakSet<object>();
  private readonly fallbackClients = new WeakSet<object>();
  /** The fallback's base servers of namespace gateways, by port and path. */
  private readonly fallbackBases = new Map<string, object>();
  private upgradeListener:
    ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;

  constructor(
    private readonly app: INestApplicationContext,
    private readonly options: RealtimeWsAdapterOptions = {},
  ) {
    super(app);
  }

  /**
   * The realtime server for realtime gateways (a gateway must not ask for another
   * path while `websocket` is false); the fallback's or a platform-ws server for the
   * others.
   */
  override create(port: number, options: GatewayOptions = {}): unknown {
    const server = this.resolveServer();
    if (options.path === BUILTIN_GATEWAY_PATH) {
      this.route(server);
      return BUILTIN_SERVER;
    }
    const realtime =
      port === UNDERLYING_PORT &&
      options.namespace === undefined &&
      (options.path === undefined || options.path === server.path);
    if (!realtime) return this.createOther(port, options);
    if (server.path === undefined) {
      throw new Error(
        'nest-realtime: a @WebSocketGateway exists but the option "websocket" is false',
      );
    }
    const others = Object.keys(options).filter((key) => key !== 'path');
    if (this.options.fallback && others.length > 0) {
      // Options of another library's gateway (Socket.IO's `cors`, say): likely meant for the fallback.
      logger.warn(
        `a @WebSocketGateway with options ${others.join(', ')} but no namespace or path runs on ` +
          'nest-realtime; give it a namespace or a path to send it to the fallback adapter',
      );
    }
    server.prepareGateways();
    this.route(server);
    return server;
  }

  override bindClientConnect(server: unknown, callback: (...args: unknown[]) => void): void {
    if (server === BUILTIN_SERVER) return; // the built-in gateway needs no per-connection hooks
    if (server instanceof RealtimeWsServer) server.onConnection(callback);
    else if (this.fallbackServers.has(server as object)) {
      this.options.fallback!.bindClientConnect(server, (client: object, ...rest: unknown[]) => {
        this.fallbackClients.add(client);
        callback(client, ...rest);
      });
    } else super.bindClientConnect(server, callback);
  }

  /** `handleDisconnect(client, { code, reason })` gets the close code and reason. */
  override bindClientDisconnect(client: unknown, callback: (...args: unknown[]) => void): void {
    if (client instanceof WsConnection) client.onClose(callback);
    else if (this.fallbackClients.has(client as object)) {
      this.options.fallback!.bindClientDisconnect?.(client, callback);
    } else super.bindClientDisconnect(client, callback);
  }

  override bindMessageHandlers(
    client: unknown,
    handlers: WsMessageHandler[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    if (client instanceof WsConnection) {
      if (handlers.length > 0) client.addHandlers(handlers, transform);
    } else if (this.fallbackClients.has(client as object)) {
      this.options.fallback!.bindMessageHandlers(client, handlers, transform);
    } else {
      super.bindMessageHandlers(client as never, handlers as never, transform);
    }
  }

  /** The realtime server closes itself (before application shutdown); the others as their adapter does. */
  override async close(server: unknown): Promise<void> {
    if (server === BUILTIN_SERVER || server instanceof RealtimeWsServer) return;
    if (this.fallbackServers.has(server as object)) await this.options.fallback!.close(server);
    else await super.close(server as never);
  }

  override async dispose(): Promise<void> {
    const httpServer = this.httpServersRegistry.get(UNDERLYING_PORT) as HttpServer | undefined;
    if (this.upgradeListener) httpServer?.off('upgrade', this.upgradeListener);
    this.upgradeListener = undefined;
    await super.dispose();
    for (const base of this.fallbackBases.values()) await this.options.fallback!.close(base);
    this.fallbackBases.clear();
    await (this.options.fallback as { dispose?: () => Promise<void> } | undefined)?.dispose?.();
  }

  /**
   * On the HTTP port one listener takes every upgrade: the realtime path to the
   * realtime server, a platform-ws gateway's path to its server, and anything else
   * to whoever else listens (Socket.IO's engine), or 404 when no one does.
   */
  protected override ensureHttpServerExists(
    port: number,
    httpServer: HttpServer = createServer(),
  ): HttpServer | undefined {
    if (port !== UNDERLYING_PORT) return super.ensureHttpServerExists(port, httpServer);
    if (this.httpServersRegistry.has(port)) return undefined;
    this.httpServersRegistry.set(port, httpServer);
    this.upgradeListener = (request, socket, head) => {
      const pathname = pathnameOf(request);
      const { realtime } = this;
      if (realtime && pathname === realtime.path) {
        realtime.handleUpgrade(request, socket, head);
        return;
      }
      for (const wsServer of this.wsServersRegistry.get(port) ?? []) {
        if (pathname !== wsServer.path) continue;
        wsServer.handleUpgrade(request, socket, head, (ws: unknown) => {
          wsServer.emit('connection', ws, request);
        });
        return;
      }
      if (httpServer.listenerCount('upgrade') === 1) rejectUpgrade(socket, 404, 'Not Found');
    };
    httpServer.on('upgrade', this.upgradeListener);
    return httpServer;
  }

  private createOther(port: number, options: GatewayOptions): unknown {
    const { fallback } = this.options;
    if (fallback) {
      const server = fallback.create(
        port,
        this.withFallbackBase(fallback, port, options),
      ) as object;
      this.fallbackServers.add(server);
      return server;
    }
    if (options.namespace !== undefined) {
      throw new Error(
        'nest-realtime: a @WebSocketGateway has a namespace, which the realtime server does not ' +
          'have (it has rooms). For a Socket.IO gateway, give its adapter: ' +
          'app.useWebSocketAdapter(new RealtimeWsAdapter(app, { fallback: new IoAdapter(app) }))',
      );
    }
    return super.create(port, options as Parameters<WsAdapter['create']>[1]);
  }

  /**
   * A namespace gateway's options for the fallback. Nest makes a namespace's base
   * server first, with no namespace, which on the HTTP port with no path is the
   * realtime server: the fallback gets a base of its own instead, one per port and
   * path, so that every namespace shares it (as they would one Socket.IO server).
   */
  private withFallbackBase(
    fallback: WebSocketAdapter,
    port: number,
    options: GatewayOptions,
  ): GatewayOptions {
    const { namespace, server, ...base } = options;
    if (
      namespace === undefined ||
      (server !== BUILTIN_SERVER && !(server instanceof RealtimeWsServer))
    ) {
      return options;
    }
    const key = `${port} ${options.path ?? ''}`;
    let fallbackBase = this.fallbackBases.get(key);
    if (!fallbackBase) {
      fallbackBase = fallback.create(port, base) as object;
      this.fallbackBases.set(key, fallbackBase);
    }
    return { ...options, server: fallbackBase };
  }

  /** Serves the realtime path on the HTTP port, once. */
  private route(server: RealtimeWsServer): void {
    if (this.realtime) return;
    this.realtime = server;
    if (server.path === undefined) return;
    if (!this.httpServer) {
      throw new Error('nest-realtime: RealtimeWsAdapter needs an HTTP application');
    }
    this.ensureHttpServerExists(UNDERLYING_PORT, this.httpServer as HttpServer);
    server.routed();
  }

  private resolveServer(): RealtimeWsServer {
    let server: RealtimeWsServer | undefined;
    try {
      server = this.app.get(RealtimeWsServer, { strict: false });
    } catch {
      // reported below
    }
    if (!server) {
      throw new Error('nest-realtime: RealtimeWsAdapter needs RealtimeModule to be imported');
    }
    return server;
  }
}

function pathnameOf(request: IncomingMessage): string {
  const url = request.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
