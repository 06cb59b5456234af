import { Controller, type BeforeApplicationShutdown } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { BehaviorSubject, Observable, distinctUntilChanged, map } from 'rxjs';

/** `grpc.health.v1.HealthCheckResponse.ServingStatus`. */
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
    return { status: this.statusOf(service, this.serving.value) };
  }

  @GrpcMethod('Health', 'Watch')
  watch({ service = '' }: { service?: string }): Observable<{ status: number }> {
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
