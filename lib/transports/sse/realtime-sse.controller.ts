import { Controller, Get, Injectable, Options, Post, Req, Res, type Type } from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { unroute } from '../../route-paths.js';
import {
  RealtimeSseEndpoint,
  type AdapterRequest,
  type AdapterResponse,
} from './realtime-sse.endpoint.js';

/**
 * The built-in SSE endpoint as a Nest controller at `sse.path`: `GET` streams,
 * `POST publish` publishes, `OPTIONS` answers CORS preflights. Being a controller,
 * it is under the app's global prefix (`app.setGlobalPrefix('api')` serves
 * `/api/realtime/events`; `exclude` keeps it where it was) and its versioning, and
 * the app's global guards, interceptors and exception filters apply to it. Guards
 * run before the stream opens, so a refused client gets the guard's answer (403).
 * The responses are written by {@link RealtimeSseEndpoint}, not by Nest's `@Sse`:
 * the bench measured Nest's per-stream event writing at a tenth of this throughput.
 *
 * @example
 * ```ts
 * // main.ts: the stream is /api/realtime/events, and AuthGuard runs before it opens
 * app.setGlobalPrefix('api');
 * app.useGlobalGuards(new AuthGuard());
 * ```
 */
@Injectable()
export class RealtimeSseController {
  constructor(private readonly endpoint: RealtimeSseEndpoint) {}

  /** `GET <path>?room=...`: a stream of the rooms' messages. */
  stream(request: AdapterRequest, response: AdapterResponse): Promise<void> {
    return this.endpoint.stream(request, response);
  }

  /** `POST <path>/publish`: publishes to a room of the caller's stream. */
  publish(request: AdapterRequest, response: AdapterResponse): Promise<void> {
    return this.endpoint.publishFor(request, response);
  }

  /** `OPTIONS <path>` and `OPTIONS <path>/publish`: a CORS preflight. */
  preflight(request: AdapterRequest, response: AdapterResponse): void {
    this.endpoint.preflight(request, response);
  }
}

/**
 * A controller class of the endpoint for one app, made per `forRoot` call: its path
 * (and whether it serves at all) is set by {@link useSseOptions} once the options
 * are known, which for `forRootAsync` is at start-up; Nest reads controllers'
 * paths after that, when it registers routes (as its RouterModule's paths are).
 */
export function realtimeSseControllerClass(): Type<RealtimeSseController> {
  @Controller()
  class AppRealtimeSseController extends RealtimeSseController {
    @Get()
    override stream(@Req() request: AdapterRequest, @Res() response: AdapterResponse) {
      return super.stream(request, response);
    }

    @Post('publish')
    override publish(@Req() request: AdapterRequest, @Res() response: AdapterResponse) {
      return super.publish(request, response);
    }

    @Options(['', 'publish'])
    override preflight(@Req() request: AdapterRequest, @Res() response: AdapterResponse) {
      super.preflight(request, response);
    }
  }
  return AppRealtimeSseController;
}

/**
 * Puts `controller` at `sse.path`, without the publish route when `sse.publish` is
 * false, and without any route when `sse` is false.
 */
export function useSseOptions(
  controller: Type<RealtimeSseController>,
  options: ResolvedRealtimeOptions,
): void {
  const { sse } = options;
  const { prototype } = controller;
  if (!sse) {
    unroute(prototype.stream, prototype.publish, prototype.preflight);
    return;
  }
  Reflect.defineMetadata(PATH_METADATA, sse.path, controller);
  if (!sse.publish) {
    unroute(prototype.publish);
    Reflect.defineMetadata(PATH_METADATA, '', prototype.preflight);
  }
}
