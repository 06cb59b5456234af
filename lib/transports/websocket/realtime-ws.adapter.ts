import { Logger, type INestApplicationContext, type WebSocketAdapter } from '@nestjs/common';
import type { ApplicationConfig, ModuleRef } from '@nestjs/core';
import type { Observable } from 'rxjs';
import { RealtimeWsServer } from './realtime-ws.server.js';
import type { MessageHandler, WsConnection } from './ws-connection.js';

const logger = new Logger('RealtimeWebSocket');

/**
 * Connects the app's `@WebSocketGateway` classes to the realtime WebSocket server,
 * so that `@SubscribeMessage` handlers, guards, pipes, filters and
 * `handleConnection`/`handleDisconnect` work on its connections. RealtimeModule
 * installs it by itself; set it by hand only if you call `app.useWebSocketAdapter`.
 *
 * @example
 * ```ts
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new RealtimeWsAdapter(app)); // only if you set adapters yourself
 * ```
 */
export class RealtimeWsAdapter implements WebSocketAdapter<RealtimeWsServer, WsConnection> {
  private server: RealtimeWsServer | undefined;

  constructor(private readonly source: RealtimeWsServer | INestApplicationContext) {}

  /**
   * Every gateway gets the one realtime server. A gateway must use the HTTP port
   * and either no path or `websocket.path`; anything else fails at start-up.
   */
  create(port: number, options: { path?: string; namespace?: unknown } = {}): RealtimeWsServer {
    const server = this.resolveServer();
    if (server.path === undefined) {
      throw new Error(
        'nest-realtime: a @WebSocketGateway exists but the option "websocket" is false',
      );
    }
    if (port !== 0) {
      throw new Error(
        `nest-realtime: gateways share the HTTP port; remove the port ${port} from @WebSocketGateway`,
      );
    }
    if (options.namespace !== undefined) {
      throw new Error('nest-realtime: gateway namespaces are not supported; use rooms');
    }
    if (options.path !== undefined && options.path !== server.path) {
      throw new Error(
        `nest-realtime: a gateway asks for path "${options.path}" but websocket.path is "${server.path}"`,
      );
    }
    server.prepareGateways();
    return server;
  }

  bindClientConnect(server: RealtimeWsServer, callback: (...args: unknown[]) => void): void {
    server.onConnection(callback);
  }

  /** `handleDisconnect(client, { code, reason })` gets the close code and reason. */
  bindClientDisconnect(
    client: WsConnection,
    callback: (info: { code: number; reason: string }) => void,
  ): void {
    client.onClose(callback);
  }

  bindMessageHandlers(
    client: WsConnection,
    handlers: MessageHandler[],
    transform: (data: unknown) => Observable<unknown>,
  ): void {
    client.addHandlers(handlers, transform);
  }

  /** The server closes itself (before application shutdown); nothing is left to do here. */
  async close(): Promise<void> {}

  async dispose(): Promise<void> {}

  private resolveServer(): RealtimeWsServer {
    const { source } = this;
    if (this.server) return this.server;
    try {
      this.server =
        source instanceof RealtimeWsServer
          ? source
          : source.get(RealtimeWsServer, { strict: false });
    } catch {
      // reported below
    }
    if (!this.server) {
      throw new Error('nest-realtime: RealtimeWsAdapter needs RealtimeModule to be imported');
    }
    return this.server;
  }
}

/**
 * Makes the realtime adapter the app's WebSocket adapter, unless the app has set
 * one already. Runs while the module's providers are built, which is before Nest
 * connects gateways (during `app.init()`).
 */
export function installRealtimeWsAdapter(moduleRef: ModuleRef, server: RealtimeWsServer): void {
  // ModuleRef has no public way to the application config; its container does.
  const config = (moduleRef as unknown as { container?: { applicationConfig?: ApplicationConfig } })
    .container?.applicationConfig;
  if (!config) {
    logger.warn(
      'could not install RealtimeWsAdapter: call app.useWebSocketAdapter(new RealtimeWsAdapter(app))',
    );
    return;
  }
  if (!config.getIoAdapter()) config.setIoAdapter(new RealtimeWsAdapter(server));
}
