import { Controller, type BeforeApplicationShutdown } from '@nestjs/common';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { GrpcMethod, RpcException } from '@nestjs/microservices';
import { BehaviorSubject, Observable, distinctUntilChanged, map, of } from 'rxjs';
import { grpcError } from './grpc-errors.js';

/**
 * `grpc.health.v1.HealthCheckResponse.ServingStatus`.
 *
 * @example
 * ```ts
 * if (reply.status === ServingStatus.SERVING) markHealthy();
 * ```
 */
export const ServingStatus = { SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

/** The services this server reports on: the whole server (""), and the realtime API. */
const SERVICES = new Set(['', 'realtime.v1.Realtime']);

/**
 * The standard gRPC health service (`grpc.health.v1.Health`, protos/grpc/health/v1):
 * SERVING while the app runs, NOT_SERVING once it starts shutting down, so that a
 * load balancer stops sending calls before the server goes.
 *
 * @example
 * ```ts
 * health.Check({ service: 'realtime.v1.Realtime' }, (error, reply) => reply.status); // 'SERVING'
 * ```
 */
@Controller()
export class RealtimeHealthController implements BeforeApplicationShutdown {
  private readonly serving = new BehaviorSubject(true);

  @GrpcMethod('Health', 'Check')
  check({ service = '' }: { service?: string }) {
    // The health protocol: Check of an unknown service is NOT_FOUND (Watch says SERVICE_UNKNOWN).
    if (!SERVICES.has(service)) {
      throw new RpcException(grpcError(GrpcStatus.NOT_FOUND, `unknown service "${service}"`));
    }
    return { status: this.statusOf(service, this.serving.value) };
  }

  @GrpcMethod('Health', 'Watch')
  watch({ service = '' }: { service?: string }): Observable<{ status: number }> {
    // Once shutdown began the subject is complete: the status is told once.
    if (this.serving.isStopped) return of({ status: this.statusOf(service, false) });
    return this.serving.pipe(
      map((serving) => this.statusOf(service, serving)),
      distinctUntilChanged(),
      map((status) => ({ status })),
    );
  }

  beforeApplicationShutdown(): void {
    this.serving.next(false);
    this.serving.complete();
  }

  private statusOf(service: string, serving: boolean): number {
    if (!SERVICES.has(service)) return ServingStatus.SERVICE_UNKNOWN;
    return serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }
}
