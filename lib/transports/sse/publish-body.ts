import { Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, RealtimeError } from '../../protocol/index.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import { notJson, RealtimeSseEndpoint, sentAsJson } from './realtime-sse.endpoint.js';

/** What of an Express application this reads: its router's stack of layers. */
interface ExpressApp {
  use(handler: ExpressMiddleware): unknown;
  readonly router?: { readonly stack?: { readonly handle?: { readonly name?: string } }[] };
}
type ExpressMiddleware = (
  request: IncomingMessage & { body?: unknown },
  response: ServerResponse,
  next: () => void,
) => void;

/** What of a Fastify instance this reads: its `onRoute` hook. */
interface FastifyApp {
  addHook(name: 'onRoute', hook: (route: FastifyRoute) => void): unknown;
}
interface FastifyRoute {
  readonly method: string | readonly string[];
  readonly url: string;
  bodyLimit?: number;
  errorHandler?: (
    error: Error & { code?: string; statusCode?: number },
    request: { readonly raw: IncomingMessage },
    reply: { readonly raw: ServerResponse; hijack(): void },
  ) => void;
}

/**
 * The body of `POST <sse.path>/publish`, with one limit (`sse.maxPayload`) and one
 * shape of refusal (`{ "error": { "code", "message" } }`) on Express and Fastify
 * alike, instead of each platform's JSON parser's own limit and answers
 * (docs/protocol.md, Publishing).
 *
 * - Express: the route's body is read here, by a middleware placed just before the
 *   platform's `jsonParser` (Nest registers that one at `init()`, before any module
 *   code runs, and finds it by that name in the same stack); body-parser then skips
 *   the request, its body read already.
 * - Fastify: an `onRoute` hook gives the route its own `bodyLimit` and an error
 *   handler that answers the parser's refusals; other errors go on to Nest's.
 *
 * The route is known by its URL ending in `<sse.path>/publish`, whatever global
 * prefix, version or module path Nest puts before it. Other HTTP platforms keep their
 * parser's behaviour.
 *
 * @example
 * ```ts
 * // RealtimeModule.configure(), before Nest registers the routes:
 * publishBody.install();
 * ```
 */
@Injectable()
export class PublishBody {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly endpoint: RealtimeSseEndpoint,
    @Inject(REALTIME_OPTIONS) private readonly options: ResolvedRealtimeOptions,
  ) {}

  /** Hooks into the app's HTTP platform; call it before the routes are registered. */
  install(): void {
    const { sse } = this.options;
    const adapter = this.adapterHost.httpAdapter;
    if (!sse || !sse.publish || !adapter) return;
    const isPublish = publishPathTest(sse.path);
    const type = adapter.getType();
    if (type === 'express') {
      this.installOnExpress(adapter.getInstance<ExpressApp>(), isPublish, sse.maxPayload);
    } else if (type === 'fastify') {
      this.installOnFastify(adapter.getInstance<FastifyApp>(), isPublish, sse.maxPayload);
    }
  }

  private installOnExpress(
    app: ExpressApp,
    isPublish: (path: string) => boolean,
    limit: number,
  ): void {
    const readPublishBody: ExpressMiddleware = (request, response, next) => {
      if (request.method !== 'POST' || !isPublish(request.url ?? '/')) {
        next();
        return;
      }
      readJson(request, limit).then(
        (body) => {
          request.body = body;
          next();
        },
        (error: unknown) => this.endpoint.refuseBody(request, response, error),
      );
    };
    app.use(readPublishBody);
    const stack = app.router?.stack;
    const parser = stack?.findIndex((layer) => layer.handle?.name === 'jsonParser') ?? -1;
    if (stack && parser >= 0) {
      const layers = stack as unknown[];
      layers.splice(parser, 0, layers.pop());
    }
  }

  private installOnFastify(
    app: FastifyApp,
    isPublish: (path: string) => boolean,
    limit: number,
  ): void {
    app.addHook('onRoute', (route) => {
      if (![route.method].flat().includes('POST') || !isPublish(route.url)) return;
      route.bodyLimit = limit;
      route.errorHandler = (error, request, reply) => {
        const refusal = parserRefusal(error, limit);
        // Thrown on: Fastify hands it to the app's error handler (Nest's).
        if (!refusal) throw error;
        reply.hijack();
        this.endpoint.refuseBody(request.raw, reply.raw, refusal);
      };
    });
  }
}

/**
 * Whether a URL (or a route's path) is the publish route's: it ends in
 * `<ssePath>/publish`, with or without a trailing slash, in any case (Express's
 * default routing).
 */
function publishPathTest(ssePath: string): (url: string) => boolean {
  const suffix = `/${ssePath.replace(/^\/+|\/+$/g, '')}/publish`.toLowerCase();
  return (url) => {
    const path = url.split('?', 1)[0]!.replace(/\/+$/, '').toLowerCase();
    return path === suffix || path.endsWith(suffix);
  };
}

/** The JSON body of a request (UTF-8), at most `limit` bytes; refused otherwise. */
function readJson(request: IncomingMessage, limit: number): Promise<unknown> {
  if (!sentAsJson(request)) return Promise.reject(notJson());
  const declared = Number(request.headers['content-length']);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error?: unknown): void => {
      request.off('data', onData).off('end', onEnd).off('error', done);
      if (error !== undefined) reject(error);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        request.pause();
        done(tooLarge(limit));
      } else chunks.push(chunk);
    };
    const onEnd = (): void => {
      done();
      try {
        // As Fastify reads it: bytes that are no UTF-8 become U+FFFD.
        resolve(JSON.parse(Buffer.concat(chunks, size).toString('utf8')));
      } catch {
        reject(notValidJson());
      }
    };
    request.on('data', onData).on('end', onEnd).on('error', done);
  });
}

/** Our refusal of what Fastify's parsers refused; undefined for any other error. */
function parserRefusal(error: Error & { code?: string }, limit: number): unknown {
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return tooLarge(limit);
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return notJson();
  // Fastify's own codes, and the SyntaxError of its JSON parser.
  if (error.code?.startsWith('FST_ERR_CTP_') || error instanceof SyntaxError) return notValidJson();
  return undefined;
}

function notValidJson(): RealtimeError {
  return new RealtimeError(ErrorCode.InvalidData, 'the body is not valid JSON');
}

function tooLarge(limit: number): RealtimeError {
  return new RealtimeError(
    ErrorCode.PayloadTooLarge,
    `the body is larger than sse.maxPayload (${limit} bytes)`,
  );
}
