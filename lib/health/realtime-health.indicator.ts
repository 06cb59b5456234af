import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { connect } from 'node:net';
import { RealtimeEngine } from '../engines/realtime-engine.interface.js';
import { REALTIME_OPTIONS } from '../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../realtime.options.js';
import { GrpcListener } from '../transports/grpc/grpc-listener.js';

/**
 * Options of one check of {@link RealtimeHealthIndicator.isHealthy}.
 *
 * @example
 * ```ts
 * () => this.realtime.isHealthy('realtime', { timeout: 500 })
 * ```
 */
export interface RealtimeHealthCheckOptions {
  /** How long the engine (a Redis PING) and the gRPC listener may take to answer, in ms. Default 1000. */
  readonly timeout?: number;
}

/**
 * What a check reports beside its status: the engine's type and, when the `grpc`
 * option is set, the gRPC listener's state; when down, a `message` that says why.
 *
 * @example
 * ```ts
 * // { realtime: { status: 'up', engine: 'redis', grpc: 'up' } }
 * ```
 */
export interface RealtimeHealthDetails extends Record<string, unknown> {
  readonly engine: 'memory' | 'redis' | 'custom';
  readonly grpc?: 'up' | 'down';
  readonly message?: string;
}

/**
 * A health indicator for @nestjs/terminus (`nest-realtime/health`): up while the engine
 * answers (the memory engine always does; the Redis engine must answer a PING within
 * the timeout; a custom engine its `ping`, or else its `available`), and, when the
 * `grpc` option is set, while the gRPC server accepts connections at `grpc.url`
 * (`connectRealtimeGrpc(app)` called). Down otherwise, with a message that says which
 * part failed; terminus then answers 503. Provide it beside `TerminusModule`;
 * RealtimeModule (global) gives it the engine.
 *
 * @example
 * ```ts
 * import { TerminusModule, HealthCheck, HealthCheckService } from '@nestjs/terminus';
 * import { RealtimeHealthIndicator } from 'nest-realtime/health';
 *
 * @Controller('health')
 * class HealthController {
 *   constructor(
 *     private readonly health: HealthCheckService,
 *     private readonly realtime: RealtimeHealthIndicator,
 *   ) {}
 *
 *   @Get()
 *   @HealthCheck()
 *   check() {
 *     return this.health.check([() => this.realtime.isHealthy('realtime')]);
 *   }
 * }
 *
 * @Module({
 *   imports: [RealtimeModule.forRoot({ engine: { type: 'redis', url } }), TerminusModule],
 *   controllers: [HealthController],
 *   providers: [RealtimeHealthIndicator],
 * })
 * export class AppModule {}
 * ```
 */
@Injectable()
export class RealtimeHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    @Inject(RealtimeEngine) private readonly engine: RealtimeEngine,
    @Inject(REALTIME_OPTIONS) private readonly options: ResolvedRealtimeOptions,
    private readonly grpc: GrpcListener,
  ) {}

  /**
   * Checks the engine, and the gRPC listener when gRPC is on.
   *
   * @param key the key of the result in terminus's report (default `realtime`)
   * @returns `{ [key]: { status: 'up' | 'down', engine, grpc?, message? } }`
   */
  async isHealthy<const Key extends string = 'realtime'>(
    key: Key = 'realtime' as Key,
    options: RealtimeHealthCheckOptions = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const session = this.health.check(key);
    const timeout = options.timeout ?? 1_000;
    const engine = this.options.engine.type;
    const engineProblem = await this.engineProblem(timeout);
    const grpcProblem = this.grpc.url === undefined ? undefined : await this.grpcProblem(timeout);
    const details: RealtimeHealthDetails = {
      engine,
      ...(this.grpc.url === undefined ? {} : { grpc: grpcProblem ? 'down' : 'up' }),
    };
    const problems = [engineProblem, grpcProblem].filter((p) => p !== undefined);
    if (problems.length === 0) return session.up(details);
    return session.down({ ...details, message: problems.join('; ') });
  }

  private async engineProblem(timeout: number): Promise<string | undefined> {
    const name = `the ${this.options.engine.type} engine`;
    try {
      if (this.engine.ping) await this.engine.ping(timeout);
      else if (this.engine.available === false) return `${name} is unavailable`;
      return undefined;
    } catch (error) {
      return `${name} does not answer (${error instanceof Error ? error.message : String(error)})`;
    }
  }

  private async grpcProblem(timeout: number): Promise<string | undefined> {
    const url = this.grpc.url!;
    if (!this.grpc.listening) {
      return `no gRPC server listens at ${url} (connectRealtimeGrpc(app) was not called)`;
    }
    try {
      await accepts(url, timeout);
      return undefined;
    } catch (error) {
      return `the gRPC server at ${url} does not accept connections (${(error as Error).message})`;
    }
  }
}

/** Resolves once a TCP connection to `host:port` opens (closing it at once), within `timeout` ms. */
function accepts(url: string, timeout: number): Promise<void> {
  const at = url.lastIndexOf(':');
  let host = url.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  // A server on every interface answers on the loopback.
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  else if (host === '::') host = '::1';
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(url.slice(at + 1)) });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (error) => {
      socket.destroy();
      reject(error);
    });
    socket.setTimeout(timeout, () => {
      socket.destroy();
      reject(new Error(`no answer within ${timeout} ms`));
    });
  });
}
