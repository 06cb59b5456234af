import { HttpException, Inject, Injectable, Logger } from '@nestjs/common';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthenticationRefused, authenticateRequest } from '../../core/authenticate.js';
import { refusalReasonOf, type RefusalReason } from '../../core/metrics/realtime-metrics.js';
import {
  ConnectionLifecycle,
  type ConnectionHandshake,
} from '../../core/lifecycle/connection-lifecycle.js';
import { assertCanJoin } from '../../core/authorize.js';
import { BuiltinEventRegistry } from '../../core/events/builtin-event-registry.js';
import { RateLimiter } from '../../core/limits/rate-limiter.js';
import type { RealtimePrincipal } from '../../core/realtime-connection.js';
import {
  BuiltinEvent,
  CloseCode,
  ErrorCode,
  errorCodeMapping,
  refusalCode,
  RealtimeError,
} from '../../protocol/index.js';
import { RealtimeHub } from '../../core/realtime-hub.js';
import { REALTIME_OPTIONS } from '../../realtime.constants.js';
import type { ResolvedRealtimeOptions } from '../../realtime.options.js';
import type { SseOptions } from './sse.options.js';
import { originAllowed } from '../origin-policy.js';
import { RealtimeSse } from './realtime-sse.service.js';
import type { StreamConnection } from '../stream-connection.js';
import { SseWriter } from './response-sink.js';
import { logFailure } from '../../engines/engine-unavailable.error.js';

/** A request as Express (or Fastify, through `raw`) hands it over. */
export type AdapterRequest = IncomingMessage & { raw?: IncomingMessage; body?: unknown };
/** A response as Express (or Fastify, through `raw`) hands it over. */
export type AdapterResponse = ServerResponse & { raw?: ServerResponse; hijack?: () => void };

/** How long a browser may keep a CORS preflight answer (seconds). */
const PREFLIGHT_MAX_AGE = 600;

/** An open stream of the endpoint, and what publishing through it needs. */
interface Stream {
  readonly connection: StreamConnection;
  /** Proves a publish comes from whoever reads the stream (it was sent in `rt:connected`). */
  readonly token: Buffer;
  readonly limiter: RateLimiter | undefined;
}

/**
 * What the built-in SSE endpoint does (docs/protocol.md, Server-Sent Events):
 * `GET <path>` streams the rooms named by `room` query parameters, resuming from
 * `Last-Event-ID`; `POST <path>/publish` publishes to a room a stream is in. The
 * routes are those of RealtimeSseController, a Nest controller, so that the app's
 * global prefix, guards and interceptors apply; this writes the responses itself,
 * each event's bytes once for all its streams, bounded for slow readers. A page of
 * another origin that `origins` allows gets the CORS headers it needs.
 *
 * @example
 * ```ts
 * const events = new EventSource('/realtime/events?room=lobby&token=abc');
 * events.addEventListener('chat', (e) => console.log(JSON.parse(e.data).data));
 * ```
 */
@Injectable()
export class RealtimeSseEndpoint {
  private readonly logger = new Logger('RealtimeSse');
  private readonly options: Readonly<Required<SseOptions>> | false;
  private readonly streams = new Map<string, Stream>();
  private readonly perUser = new Map<string, number>();
  /** One write per stream per tick, each event's bytes made once for all its streams. */
  private readonly writer = new SseWriter();

  constructor(
    private readonly sse: RealtimeSse,
    private readonly hub: RealtimeHub,
    private readonly registry: BuiltinEventRegistry,
    @Inject(REALTIME_OPTIONS) private readonly realtime: ResolvedRealtimeOptions,
    private readonly lifecycle: ConnectionLifecycle,
  ) {
    this.options = realtime.sse;
  }

  /** The endpoint's streams open now. */
  get size(): number {
    return this.streams.size;
  }

  /** `GET <path>`: opens a stream, or answers why not; settles once it is open (or refused). */
  stream(request: AdapterRequest, response: AdapterResponse): Promise<void> {
    return this.serve(request, response).catch((error: unknown) =>
      this.crashed(response.raw ?? response, error),
    );
  }

  /** `POST <path>/publish`: publishes for a stream; settles once answered. */
  publishFor(request: AdapterRequest, response: AdapterResponse): Promise<void> {
    return this.publish(request, response).catch((error: unknown) =>
      this.crashed(response.raw ?? response, error),
    );
  }

  /**
   * `OPTIONS` (a CORS preflight): 204 with what a page of an allowed origin may send
   * (`POST`, its `Content-Type` and `Authorization`), 403 for another origin.
   */
  preflight(adapterRequest: AdapterRequest, adapterResponse: AdapterResponse): void {
    const [request, response] = takeOver(adapterRequest, adapterResponse);
    if (!this.originAllowed(request, response)) return;
    const asked = request.headers['access-control-request-headers'];
    response.writeHead(204, {
      'Access-Control-Allow-Methods': 'GET, POST',
      'Access-Control-Allow-Headers': asked ?? 'Content-Type, Authorization',
      'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE),
    });
    response.end();
  }

  private async serve(
    adapterRequest: AdapterRequest,
    adapterResponse: AdapterResponse,
  ): Promise<void> {
    const handshake = this.lifecycle.handshake('sse');
    try {
      await this.openStream(adapterRequest, adapterResponse, handshake);
    } finally {
      handshake.end(); // a stream that opened ended it already; a client that left ends it here
    }
  }

  private async openStream(
    adapterRequest: AdapterRequest,
    adapterResponse: AdapterResponse,
    handshake: ConnectionHandshake,
  ): Promise<void> {
    const options = this.options as Required<SseOptions>;
    const [request, response] = takeOver(adapterRequest, adapterResponse);
    const { refused } = handshake;
    if (!this.originAllowed(request, response)) return refused('origin');
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
    let rooms: string[];
    try {
      rooms = this.sse.checkRooms(query.getAll('room'));
    } catch (error) {
      answerError(response, error);
      return refused('invalid');
    }
    const principal = await this.authenticate(request, response, refused);
    if (!principal) return;
    try {
      for (const room of rooms) await assertCanJoin(this.realtime.authorize, principal, room);
    } catch (error) {
      answerError(response, error);
      return refused('forbidden');
    }
    if (response.destroyed) return; // the client left meanwhile
    // From here to the registration nothing awaits: the limits cannot be raced.
    if (this.sse.shuttingDown) {
      answer(response, 503, ErrorCode.InternalError, 'the server is shutting down');
      return refused('unavailable');
    }
    if (this.streams.size >= options.maxConnections) {
      answer(response, 503, ErrorCode.ServerFull, 'the server holds sse.maxConnections streams');
      return refused('server_full');
    }
    const { userId } = principal;
    if (userId !== undefined && (this.perUser.get(userId) ?? 0) >= options.maxConnectionsPerUser) {
      answer(response, 429, ErrorCode.TooManyConnections, 'too many streams for this user');
      return refused('user_limit');
    }
    response.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
      Connection: 'keep-alive',
    });
    if (request.method === 'HEAD') {
      // Express and Fastify route HEAD here too: it learns the stream would open, and no more.
      response.end();
      return;
    }
    const resume = this.sse.resumePoint(request, rooms);
    request.socket.setNoDelay(true);
    request.socket.setKeepAlive(true);
    request.socket.setTimeout(0);
    response.write(`retry: ${options.retry}\n\n`);
    const token = randomBytes(16);
    const connection = this.sse.open(
      principal,
      this.writer.sink(response),
      rooms,
      options.publish ? { publishToken: token.toString('base64url') } : {},
    );
    this.streams.set(connection.id, {
      connection,
      token,
      limiter: RateLimiter.of(
        this.realtime.rateLimit,
        this.hub.metrics.framesDropped.cell('sse', 'rate_limited'),
      ),
    });
    if (userId !== undefined) this.perUser.set(userId, (this.perUser.get(userId) ?? 0) + 1);
    handshake.opened(connection);
    response.once('close', () => {
      this.streams.delete(connection.id);
      if (userId !== undefined) {
        const left = this.perUser.get(userId)! - 1;
        if (left === 0) this.perUser.delete(userId);
        else this.perUser.set(userId, left);
      }
      this.sse.finish(connection);
    });
    await connection.joinAll(this.hub, resume).catch((error: unknown) => {
      // A stream that closed meanwhile (its client left, the app shut down) is no failure.
      if (!connection.isOpen) return;
      logFailure(this.logger, "joining an SSE stream's rooms failed", error);
      response.destroy();
    });
  }

  /**
   * A page of another site may not open a stream, nor publish (403): see `origins`.
   * One that may is told so with CORS headers, credentials (cookies) included.
   */
  private originAllowed(request: IncomingMessage, response: ServerResponse): boolean {
    if (!originAllowed(request, this.realtime.origins)) {
      answer(response, 403, ErrorCode.Forbidden, 'this origin may not connect');
      return false;
    }
    const { origin } = request.headers;
    if (origin !== undefined) {
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Credentials', 'true');
      response.setHeader('Vary', 'Origin');
    }
    return true;
  }

  /**
   * A publish refused before the endpoint saw it, as the platform read its body
   * (PublishBody): the same CORS headers and shape as the endpoint's own refusals, and
   * the connection closed after a body too large to read.
   */
  refuseBody(request: IncomingMessage, response: ServerResponse, error: unknown): void {
    if (!this.originAllowed(request, response)) return;
    if (!response.headersSent && !request.complete) response.setHeader('Connection', 'close');
    answerError(response, error);
  }

  private async publish(
    adapterRequest: AdapterRequest,
    adapterResponse: AdapterResponse,
  ): Promise<void> {
    const [request, response] = takeOver(adapterRequest, adapterResponse);
    if (!this.originAllowed(request, response)) return;
    // Express and Fastify as Nest sets them up also parse forms (and Fastify plain
    // text): the body is JSON, on both alike.
    if (!sentAsJson(request)) {
      answerError(response, notJson());
      return;
    }
    const principal = await this.authenticate(request, response);
    if (!principal) return;
    const body = adapterRequest.body;
    const {
      connection: id,
      token,
      ...message
    } = (isObject(body) ? body : {}) as Record<string, unknown>;
    if (!isObject(body) || typeof id !== 'string' || typeof token !== 'string') {
      answer(
        response,
        400,
        ErrorCode.InvalidData,
        'the body must be a JSON object with connection and token',
      );
      return;
    }
    const stream = this.streams.get(id);
    const given = Buffer.from(token, 'base64url');
    if (
      !stream ||
      given.length !== stream.token.length ||
      !timingSafeEqual(given, stream.token) ||
      stream.connection.userId !== principal.userId
    ) {
      answer(response, 403, ErrorCode.Forbidden, 'no such stream for these credentials');
      return;
    }
    const verdict = stream.limiter?.take(Number(request.headers['content-length']) || 0);
    if (verdict !== undefined && verdict !== 'admit') {
      answer(response, 429, ErrorCode.RateLimited, 'publishing too fast');
      // As a WebSocket is: a run of maxRefused refusals ends the stream.
      if (verdict === 'close')
        stream.connection.close(CloseCode.RateLimited, 'rate limit exceeded');
      return;
    }
    try {
      // rt:publish over HTTP: the same checks and answer.
      const publish = this.registry.get(BuiltinEvent.Publish, stream.connection.transport)!;
      const result = await publish.handler(stream.connection, message);
      answerJson(response, 200, result);
    } catch (error) {
      answerError(response, error);
    }
  }

  /** The principal, or undefined once the refusal was answered. */
  private async authenticate(
    request: IncomingMessage,
    response: ServerResponse,
    refused?: (reason: RefusalReason) => void,
  ): Promise<RealtimePrincipal | undefined> {
    try {
      return await authenticateRequest(this.realtime.authenticate, request);
    } catch (error) {
      if (!(error instanceof AuthenticationRefused)) throw error;
      refused?.(refusalReasonOf(error.status));
      answer(response, error.status, refusalCode(error.status), error.message);
      return undefined;
    }
  }

  private crashed(response: ServerResponse, error: unknown): void {
    logFailure(this.logger, 'the SSE endpoint failed', error);
    if (!response.headersSent)
      answer(response, 500, ErrorCode.InternalError, 'Internal server error');
    else response.destroy();
  }
}

/** Whether the request says its body is JSON (`application/json`, any parameters). */
export function sentAsJson(request: IncomingMessage): boolean {
  const type = request.headers['content-type'] ?? '';
  return type.split(';', 1)[0]!.trim().toLowerCase() === 'application/json';
}

/**
 * The Node request and response under the platform's, the response taken from the
 * platform: on Fastify the reply is hijacked, and the headers its hooks and plugins
 * set on it (an `onRequest` hook, `@fastify/helmet`...) are carried over to the raw
 * response, where Express's middleware sets them in the first place.
 */
export function takeOver(
  adapterRequest: AdapterRequest,
  adapterResponse: AdapterResponse,
): [IncomingMessage, ServerResponse] {
  const request = adapterRequest.raw ?? adapterRequest;
  const { raw } = adapterResponse;
  if (!raw) return [request, adapterResponse];
  for (const [name, value] of Object.entries(adapterResponse.getHeaders())) {
    if (value !== undefined && !raw.hasHeader(name)) raw.setHeader(name, value);
  }
  adapterResponse.hijack?.();
  return [request, raw];
}

/** The refusal of a publish body not sent as JSON (415). */
export function notJson(): HttpException {
  return new HttpException(
    {
      code: ErrorCode.InvalidData,
      message: 'the body must be JSON, sent with Content-Type: application/json',
    },
    415,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function answerJson(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body ?? null));
}

/** A refusal before any event: `{ "error": { "code", "message" } }` with its status. */
function answer(response: ServerResponse, status: number, code: string, message: string): void {
  answerJson(response, status, { error: { code, message } });
}

function answerError(response: ServerResponse, error: unknown): void {
  if (error instanceof HttpException) {
    const body = error.getResponse() as { code?: string; message?: string } | string;
    const { code = ErrorCode.InvalidData, message = error.message } =
      typeof body === 'string' ? { message: body } : body;
    answer(response, error.getStatus(), code, message);
  } else if (error instanceof RealtimeError) {
    answer(response, errorCodeMapping(error.code).http, error.code, error.message);
  } else {
    throw error;
  }
}
