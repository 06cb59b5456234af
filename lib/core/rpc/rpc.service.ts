import { SpanKind } from '../tracing/realtime-tracing.js';
import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  MAX_EVENT_LENGTH,
  encodeFrame,
  BuiltinEvent,
  ErrorCode,
  RealtimeError,
  type OutboundFrame,
} from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import type { RpcOptions } from './rpc.options.js';
import type { RealtimeConnection, RealtimePrincipal } from '../realtime-connection.js';
import { RealtimeHub } from '../realtime-hub.js';
import { RpcError } from './rpc-error.js';

/**
 * Who is calling an RPC method.
 *
 * @example
 * ```ts
 * rpc.register('me', (_params, { principal }) => principal);
 * ```
 */
export interface RpcContext {
  readonly connection: RealtimeConnection;
  readonly principal: RealtimePrincipal;
}

/**
 * A method clients may call: its result (or a promise of it) is the reply.
 *
 * @example
 * ```ts
 * const sum: RpcHandler = (params) => (params as number[]).reduce((a, b) => a + b, 0);
 * ```
 */
export type RpcHandler = (params: unknown, context: RpcContext) => unknown;

/** A call to a connection of another node, as that node gets it. */
interface RemoteCall {
  readonly id: string;
  readonly method: string;
  readonly params: unknown;
  readonly timeout: number;
}

/** How much longer than a call's own timeout a call through another node waits, in ms. */
const NODE_MARGIN = 2_000;

interface PendingCall {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * RPC both ways. Clients call methods the app registers (`rt:call`); the server
 * calls methods a client answers (`rpc.call(connection, ...)`). Both time out, and
 * failures are errors with stable codes; the calls a connection has waiting are
 * bounded and fail with CONNECTION_CLOSED when it goes.
 *
 * @example
 * ```ts
 * constructor(private readonly rpc: RpcService) {
 *   rpc.register('sum', (params) => (params as number[]).reduce((a, b) => a + b, 0));
 * }
 *
 * async confirm(client: RealtimeConnection) {
 *   const ok = await this.rpc.call<boolean>(client, 'confirm', { text: 'Delete?' }, { timeout: 30_000 });
 * }
 * ```
 */
@Injectable()
export class RpcService implements OnModuleInit, OnApplicationShutdown {
  private readonly handlers = new Map<string, RpcHandler>();
  private readonly pending = new Map<RealtimeConnection, Map<string, PendingCall>>();
  private readonly options: Readonly<Required<RpcOptions>>;
  private sequence = 0;

  constructor(
    private readonly hub: RealtimeHub,
    @Inject(REALTIME_OPTIONS) options: ResolvedRealtimeOptions,
  ) {
    this.options = options.rpc;
  }

  onModuleInit(): void {
    this.hub.addListener({ connectionRemoved: (connection) => this.failAll(connection) });
    // Calls to this node's connections from other nodes.
    this.hub.link.handle('call', ({ id, method, params, timeout }: RemoteCall) =>
      this.callHere(id, method, params, timeout),
    );
  }

  onApplicationShutdown(): void {
    for (const connection of this.pending.keys()) this.failAll(connection);
  }

  /**
   * Registers a method clients may call; returns the function that unregisters it.
   *
   * @throws Error for an empty or overlong name, or one already registered.
   */
  register(method: string, handler: RpcHandler): () => void {
    if (typeof method !== 'string' || method.length === 0 || method.length > MAX_EVENT_LENGTH) {
      throw new Error(`nest-realtime: an RPC method name is 1 to ${MAX_EVENT_LENGTH} characters`);
    }
    if (this.handlers.has(method)) {
      throw new Error(`nest-realtime: the RPC method "${method}" is registered already`);
    }
    this.handlers.set(method, handler);
    return () => {
      if (this.handlers.get(method) === handler) this.handlers.delete(method);
    };
  }

  /**
   * @internal Runs a client's call.
   * @throws RealtimeError RPC_UNKNOWN_METHOD, RPC_TIMEOUT; or what the handler threw.
   */
  async invoke(connection: RealtimeConnection, method: string, params: unknown): Promise<unknown> {
    const handler = this.handlers.get(method);
    if (!handler) {
      this.hub.metrics.rpcCalls.inc('client_to_server', 'unknown_method');
      throw new RealtimeError(ErrorCode.RpcUnknownMethod, `no RPC method "${method}"`);
    }
    const context: RpcContext = { connection, principal: connection.principal };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RealtimeError(ErrorCode.RpcTimeout, `"${method}" did not answer in time`)),
        this.options.timeout,
      );
    });
    try {
      return await this.timed('client_to_server', method, () =>
        Promise.race([(async () => handler(params, context))(), timeout]),
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs a call in a span (when one records), and counts it by its outcome with how
   * long it took.
   */
  private timed<T>(
    direction: 'client_to_server' | 'server_to_client',
    method: string,
    call: () => Promise<T>,
  ): Promise<T> {
    const { rpcCalls, rpcDuration } = this.hub.metrics;
    const started = performance.now();
    const done = (outcome: string) => {
      rpcCalls.inc(direction, outcome);
      rpcDuration.observe((performance.now() - started) / 1_000, direction);
    };
    const kind = direction === 'client_to_server' ? SpanKind.Server : SpanKind.Client;
    const attributes = {
      'rpc.system': 'nest-realtime',
      'rpc.method': method,
      'realtime.direction': direction,
    };
    return this.hub.tracing.around('realtime.rpc', kind, attributes, call).then(
      (value) => {
        done('ok');
        return value;
      },
      (error: unknown) => {
        const timedOut = error instanceof RealtimeError && error.code === ErrorCode.RpcTimeout;
        done(timedOut ? 'timeout' : 'error');
        throw error;
      },
    );
  }

  /**
   * Calls a method the client answers (`rt:call` to the client), and resolves with
   * its reply. A connection of another node, by id, is called through its node.
   *
   * @throws RealtimeError RPC_TIMEOUT, CONNECTION_CLOSED, TOO_MANY_REQUESTS (the
   *   connection already has `rpc.maxPendingCalls` calls waiting), INVALID_DATA (not
   *   an open connection), NODE_UNAVAILABLE (its node did not answer); RpcError with
   *   the client's own error code.
   */
  call<T = unknown>(
    target: RealtimeConnection | string,
    method: string,
    params?: unknown,
    { timeout = this.options.timeout }: { timeout?: number } = {},
  ): Promise<T> {
    const node = this.hub.remoteNode(target);
    if (node) {
      const call: RemoteCall = { id: target as string, method, params, timeout };
      // The other node times the call out itself; this wait only covers a node that is gone.
      return this.hub.link.ask(node, 'call', call, timeout + NODE_MARGIN) as Promise<T>;
    }
    return this.callHere(target, method, params, timeout) as Promise<T>;
  }

  /** A call to a connection of this node. */
  private callHere(
    target: RealtimeConnection | string,
    method: string,
    params: unknown,
    timeout: number,
  ): Promise<unknown> {
    const connection = typeof target === 'string' ? this.hub.connections.get(target) : target;
    if (!connection || !this.hub.connections.has(connection) || !connection.isOpen) {
      return Promise.reject(new RealtimeError(ErrorCode.InvalidData, 'not an open connection'));
    }
    let calls = this.pending.get(connection);
    if ((calls?.size ?? 0) >= this.options.maxPendingCalls) {
      this.hub.metrics.framesDropped.inc(connection.transport, 'queue_full');
      return Promise.reject(
        new RealtimeError(
          ErrorCode.TooManyRequests,
          `${this.options.maxPendingCalls} calls are waiting already`,
        ),
      );
    }
    const id = `s${++this.sequence}`;
    let frame: OutboundFrame;
    try {
      frame = encodeFrame({ event: BuiltinEvent.Call, id, data: { method, params } });
    } catch {
      return Promise.reject(new RealtimeError(ErrorCode.InvalidData, 'params must be JSON'));
    }
    if (!calls) this.pending.set(connection, (calls = new Map()));
    const waiting = calls;
    return this.timed(
      'server_to_client',
      method,
      () =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            this.forget(connection, id);
            reject(
              new RealtimeError(
                ErrorCode.RpcTimeout,
                `"${method}" was not answered in ${timeout} ms`,
              ),
            );
          }, timeout);
          waiting.set(id, { resolve, reject, timer });
          connection.send(frame);
        }),
    );
  }

  /** @internal A client's `rt:reply` to a server call; unknown or late ids are ignored. */
  settle(connection: RealtimeConnection, id: unknown, data: unknown, error: unknown): void {
    if (typeof id !== 'string') return;
    const call = this.pending.get(connection)?.get(id);
    if (!call) return;
    this.forget(connection, id);
    clearTimeout(call.timer);
    if (error === undefined || error === null) {
      call.resolve(data ?? null);
      return;
    }
    const { code, message, details } = (
      typeof error === 'object' && error !== null ? error : {}
    ) as Record<string, unknown>;
    call.reject(
      new RpcError(
        typeof code === 'string' ? code : ErrorCode.InternalError,
        typeof message === 'string' ? message : 'the client failed the call',
        typeof details === 'object' && details !== null
          ? (details as Record<string, unknown>)
          : undefined,
      ),
    );
  }

  private forget(connection: RealtimeConnection, id: string): void {
    const calls = this.pending.get(connection);
    calls?.delete(id);
    if (calls?.size === 0) this.pending.delete(connection);
  }

  private failAll(connection: RealtimeConnection): void {
    const calls = this.pending.get(connection);
    if (!calls) return;
    this.pending.delete(connection);
    for (const { reject, timer } of calls.values()) {
      clearTimeout(timer);
      reject(
        new RealtimeError(ErrorCode.ConnectionClosed, 'the connection closed before it answered'),
      );
    }
  }
}
