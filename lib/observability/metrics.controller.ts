import { Controller, Get, Injectable, Res, type Type } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import { HttpAdapterHost } from '@nestjs/core';
import type { ResolvedRealtimeOptions } from '../realtime.options.js';
import { unroute } from '../route-paths.js';
import { RealtimeMetricsExport } from './metrics-export.service.js';

/**
 * `GET metrics.path`: the Prometheus text of the registry the metrics joined. A Nest
 * controller, so it is under the app's global prefix and its global guards apply
 * (protect it as any other route: see docs/observability.md).
 *
 * @example
 * ```ts
 * RealtimeModule.forRoot({ metrics: { type: 'prometheus', path: '/metrics' } });
 * // curl http://localhost:3000/metrics
 * ```
 */
@Injectable()
export class RealtimeMetricsController {
  constructor(
    private readonly exporter: RealtimeMetricsExport,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  async scrape(response: unknown): Promise<string> {
    const { contentType, text } = await this.exporter.scrape();
    this.adapterHost.httpAdapter.setHeader(response, 'Content-Type', contentType);
    return text;
  }
}

/**
 * A controller class for one app, its path set by {@link useMetricsOptions} once the
 * options are known (as the SSE controller's is).
 */
export function realtimeMetricsControllerClass(): Type<RealtimeMetricsController> {
  @Controller()
  class AppRealtimeMetricsController extends RealtimeMetricsController {
    @Get()
    override scrape(@Res({ passthrough: true }) response: unknown) {
      return super.scrape(response);
    }
  }
  return AppRealtimeMetricsController;
}

/** Puts `controller` at `metrics.path`, or takes its route away when there is none. */
export function useMetricsOptions(
  controller: Type<RealtimeMetricsController>,
  { metrics }: ResolvedRealtimeOptions,
): void {
  if (metrics?.path === undefined) {
    unroute(controller.prototype.scrape);
    return;
  }
  Reflect.defineMetadata(PATH_METADATA, metrics.path, controller);
}
