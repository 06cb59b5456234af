import {
  Body,
  Controller,
  ForbiddenException,
  Get,
  Header,
  HttpCode,
  HttpException,
  Inject,
  Injectable,
  Post,
  Query,
  Req,
  Res,
  UseGuards,
  type BeforeApplicationShutdown,
  type CanActivate,
  type ExecutionContext,
  type Type,
} from '@nestjs/common';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import type { IncomingMessage } from 'node:http';
import { ErrorCode, errorCodeMapping, RealtimeError } from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { unroute } from '../../route-paths.js';
import {
  takeOver,
  type AdapterRequest,
  type AdapterResponse,
} from '../../transports/sse/realtime-sse.endpoint.js';
import { inspectorPage } from './inspector-page.js';
import {
  RealtimeInspector,
  type ClusterSnapshot,
  type InspectedRoom,
} from './inspector.service.js';

/** Bytes a tail stream may have waiting; past it, messages are skipped (and counted). */
const TAIL_MAX_BUFFERED = 1 << 20;
/** Keep-alive comments on a quiet tail, ms. */
const TAIL_KEEP_ALIVE = 15_000;

/**
 * The inspector's own guard: `inspector.authorize` must allow the request, or it is
 * refused with 403 before anything is read. The app's global guards run as well.
 *
 * @example
 * ```ts
 * @UseGuards(InspectorGuard)
 * ```
 */
@Injectable()
export class InspectorGuard implements CanActivate {
  constructor(@Inject(REALTIME_OPTIONS) private readonly options: ResolvedRealtimeOptions) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<AdapterRequest>();
    const allowed = await this.options.inspector?.authorize(
      (request.raw ?? request) as IncomingMessage,
    );
    if (allowed === true) return true;
    throw new ForbiddenException({
      error: { code: ErrorCode.Forbidden, message: 'the inspector refused this request' },
    });
  }
}

/**
 * The inspector at `inspector.path`: the page, its JSON API under `api/`, and a
 * room's live messages as Server-Sent Events. A Nest controller: under the app's global
 * prefix, its global guards and filters apply, and {@link InspectorGuard} before them all.
 *
 * @example
 * ```ts
 * // GET /realtime/inspector            the page
 * // GET /realtime/inspector/api/snapshot?q=alice
 * // POST /realtime/inspector/api/disconnect  { "userId": "alice" }
 * ```
 */
@Injectable()
export class RealtimeInspectorController implements BeforeApplicationShutdown {
  /** Open tails, ended at shutdown (an open response would hold `app.close()`). */
  private readonly tails = new Set<() => void>();

  constructor(private readonly inspector: RealtimeInspector) {}

  beforeApplicationShutdown(): void {
    for (const end of this.tails) end(); // each takes itself out: a Set allows it
  }

  page(request: AdapterRequest): string {
    return inspectorPage(pathOf(request));
  }

  snapshot(query: unknown): Promise<ClusterSnapshot> {
    return answer(() => this.inspector.snapshot(typeof query === 'string' ? query : ''));
  }

  room(name: unknown): Promise<InspectedRoom> {
    return answer(() => this.inspector.room(typeof name === 'string' ? name : ''));
  }

  async disconnect(body: unknown): Promise<{ ok: true }> {
    await answer(async () => this.inspector.disconnect(objectOf(body)));
    return { ok: true };
  }

  async deleteRoom(body: unknown): Promise<{ deleted: boolean }> {
    return { deleted: await answer(() => this.inspector.deleteRoom(objectOf(body).room)) };
  }

  publish(body: unknown): Promise<{ epoch: string; offset: number }> {
    const { room, event, data } = objectOf(body);
    return answer(() => this.inspector.publish(room, event, data));
  }

  /** `GET api/tail?room=`: the room's messages as events, until the client goes. */
  async tail(
    room: unknown,
    adapterRequest: AdapterRequest,
    adapterResponse: AdapterResponse,
  ): Promise<void> {
    const name = typeof room === 'string' ? room : '';
    let stop: (() => void) | undefined;
    let skipped = 0;
    const [, response] = takeOver(adapterRequest, adapterResponse);
    try {
      stop = await this.inspector.tail(name, (message) => {
        // Before the stream's head (the subscription's answer still on its way): none yet.
        if (!response.headersSent) return;
        if (response.writableLength > TAIL_MAX_BUFFERED) {
          skipped++;
          return;
        }
        if (skipped > 0) {
          response.write(`event: skipped\ndata: ${skipped}\n\n`);
          skipped = 0;
        }
        response.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
      });
    } catch (error) {
      const { status, body } = errorOf(error);
      response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
      response.end(JSON.stringify(body));
      return;
    }
    if (response.destroyed) {
      stop(); // the client left while the room was being subscribed
      return;
    }
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    });
    response.write(`event: ready\ndata: ${JSON.stringify({ room: name })}\n\n`);
    const keepAlive = setInterval(() => response.write(': \n\n'), TAIL_KEEP_ALIVE).unref();
    const end = () => {
      clearInterval(keepAlive);
      stop?.();
      stop = undefined;
      this.tails.delete(end);
      response.end();
    };
    this.tails.add(end);
    response.once('close', end);
  }
}

/**
 * A controller class for one app, its path set by {@link useInspectorOptions} once the
 * options are known (as the SSE controller's is).
 */
export function realtimeInspectorControllerClass(): Type<RealtimeInspectorController> {
  @Controller()
  @UseGuards(InspectorGuard)
  class AppRealtimeInspectorController extends RealtimeInspectorController {
    @Get()
    @Header('Content-Type', 'text/html; charset=utf-8')
    @Header('Cache-Control', 'no-store')
    override page(@Req() request: AdapterRequest) {
      return super.page(request);
    }

    @Get('api/snapshot')
    override snapshot(@Query('q') query: unknown) {
      return super.snapshot(query);
    }

    @Get('api/room')
    override room(@Query('name') name: unknown) {
      return super.room(name);
    }

    @Get('api/tail')
    override tail(
      @Query('room') room: unknown,
      @Req() request: AdapterRequest,
      @Res() response: AdapterResponse,
    ) {
      return super.tail(room, request, response);
    }

    @Post('api/disconnect')
    @HttpCode(200)
    override disconnect(@Body() body: unknown) {
      return super.disconnect(body);
    }

    @Post('api/rooms/delete')
    @HttpCode(200)
    override deleteRoom(@Body() body: unknown) {
      return super.deleteRoom(body);
    }

    @Post('api/publish')
    @HttpCode(200)
    override publish(@Body() body: unknown) {
      return super.publish(body);
    }
  }
  return AppRealtimeInspectorController;
}

/** Puts `controller` at `inspector.path`, or takes every route away when it is off. */
export function useInspectorOptions(
  controller: Type<RealtimeInspectorController>,
  { inspector }: ResolvedRealtimeOptions,
): void {
  if (!inspector) {
    const { prototype } = controller;
    unroute(
      prototype.page,
      prototype.snapshot,
      prototype.room,
      prototype.tail,
      prototype.disconnect,
      prototype.deleteRoom,
      prototype.publish,
    );
    return;
  }
  Reflect.defineMetadata(PATH_METADATA, inspector.path, controller);
}

/** The page's own path as the client asked for it (a global prefix included), without a query. */
function pathOf(request: AdapterRequest): string {
  const url = (request.raw ?? request).url ?? '/';
  return url.split('?', 1)[0]!.replace(/\/+$/, '');
}

function objectOf(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpException(
      { error: { code: ErrorCode.InvalidData, message: 'the body must be a JSON object' } },
      400,
    );
  }
  return body as Record<string, unknown>;
}

/** Runs `work`; a RealtimeError becomes the HTTP answer of its code. */
async function answer<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof RealtimeError)) throw error;
    const { status, body } = errorOf(error);
    throw new HttpException(body, status);
  }
}

function errorOf(error: unknown): { status: number; body: object } {
  if (error instanceof RealtimeError) {
    return {
      status: errorCodeMapping(error.code).http,
      body: { error: { code: error.code, message: error.message } },
    };
  }
  return {
    status: 500,
    body: { error: { code: ErrorCode.InternalError, message: 'the inspector failed' } },
  };
}
