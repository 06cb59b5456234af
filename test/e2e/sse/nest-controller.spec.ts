// The SSE endpoint is a Nest controller: the app's global prefix, guards and
// interceptors apply to it, its path comes from forRoot or forRootAsync options,
// @nestjs/swagger lists it, and a page of an allowed origin gets CORS headers.
import {
  Catch,
  ForbiddenException,
  Injectable,
  Module,
  VersioningType,
  type ArgumentsHost,
  type ExceptionFilter,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Observable } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { RealtimeModule, type RealtimeModuleOptions } from '../../../lib/index.js';
import {
  listen,
  PLATFORMS,
  usePlatform,
  type StartOptions,
  type TestApp,
} from '../../support/app.js';
import { userFromQuery, withHarness } from '../../support/fixtures.js';
import { dataOf, httpBase, joined, SseTestClient } from '../../support/sse-client.js';

/** Lets through requests that carry `x-pass: yes`. */
@Injectable()
class PassGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToHttp().getRequest<IncomingMessage>().headers['x-pass'] === 'yes';
  }
}

/** Records the handlers it wraps (class and method) and the URL. */
@Injectable()
class Recorder implements NestInterceptor {
  readonly calls: string[] = [];

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const { url } = context.switchToHttp().getRequest<IncomingMessage & { originalUrl?: string }>();
    this.calls.push(`${context.getHandler().name} ${url?.split('?')[0]}`);
    return next.handle();
  }
}

/** Answers a refusal with 418, as an app's own filter would reshape errors. */
@Catch(ForbiddenException)
class TeapotFilter implements ExceptionFilter {
  catch(_exception: ForbiddenException, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<{ raw?: ServerResponse } & ServerResponse>();
    const response = reply.raw ?? reply;
    response.writeHead(418, { 'content-type': 'application/json' });
    response.end('{"teapot":true}');
  }
}

const harness = withHarness();

async function open(app: TestApp, path: string, headers: Record<string, string> = {}) {
  const client = await SseTestClient.open(`${httpBase(app)}${path}`, headers);
  harness.defer(() => client.close());
  return client;
}

async function post(
  app: TestApp,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const response = await fetch(`${httpBase(app)}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** Starts an app whose RealtimeModule comes from forRootAsync with these options. */
async function startAsync(
  options: RealtimeModuleOptions,
  nest: StartOptions = {},
): Promise<TestApp> {
  @Module({
    imports: [
      RealtimeModule.forRootAsync({
        useFactory: async () => ({ authenticate: userFromQuery, ...options }),
      }),
    ],
  })
  class AsyncModule {}
  return harness.track(await listen(AsyncModule, '/ws', nest));
}

describe.each(PLATFORMS)('the SSE endpoint as a Nest controller, over %s', (platform) => {
  usePlatform(platform);

  it('is under the global prefix, behind global guards, inside global interceptors', async () => {
    const recorder = new Recorder();
    const app = await harness.start(
      { authenticate: userFromQuery },
      {},
      {
        configure: (nest) => {
          nest.setGlobalPrefix('api');
          nest.useGlobalGuards(new PassGuard());
          nest.useGlobalInterceptors(recorder);
        },
      },
    );
    expect(
      (await open(app, '/realtime/events?room=lobby&user=a', { 'x-pass': 'yes' })).status,
    ).toBe(404);
    const refused = await open(app, '/api/realtime/events?room=lobby&user=a');
    expect(refused.status).toBe(403);
    expect(recorder.calls).toEqual([]); // the guard refused before the stream opened
    const stream = await open(app, '/api/realtime/events?room=lobby&user=a', { 'x-pass': 'yes' });
    expect(stream.status).toBe(200);
    await joined(stream);
    const { connectionId, publishToken } = dataOf(stream.events[0]!);
    const publish = {
      connection: connectionId,
      token: publishToken,
      room: 'lobby',
      event: 'e',
      data: 1,
    };
    expect((await post(app, '/api/realtime/events/publish?user=a', publish)).status).toBe(403);
    const published = await post(app, '/api/realtime/events/publish?user=a', publish, {
      'x-pass': 'yes',
    });
    expect(published).toMatchObject({ status: 200, body: { room: 'lobby', offset: 1 } });
    expect(recorder.calls).toEqual([
      'stream /api/realtime/events',
      'publish /api/realtime/events/publish',
    ]);
  });

  it("is versioned with the app's URI versioning, and answered by its global filters", async () => {
    const app = await harness.start(
      { authenticate: userFromQuery },
      {},
      {
        configure: (nest) => {
          nest.enableVersioning({ type: VersioningType.URI, defaultVersion: '2' });
          nest.useGlobalGuards(new PassGuard());
          nest.useGlobalFilters(new TeapotFilter());
        },
      },
    );
    expect(
      (await open(app, '/realtime/events?room=lobby&user=a', { 'x-pass': 'yes' })).status,
    ).toBe(404);
    const refused = await open(app, '/v2/realtime/events?room=lobby&user=a');
    expect(refused.status).toBe(418);
    const stream = await open(app, '/v2/realtime/events?room=lobby&user=a', { 'x-pass': 'yes' });
    expect(stream.status).toBe(200);
    await joined(stream);
  });

  it('stays where it was when the global prefix excludes it', async () => {
    const app = await harness.start(
      { authenticate: userFromQuery },
      {},
      {
        configure: (nest) =>
          nest.setGlobalPrefix('api', { exclude: ['realtime/events', 'realtime/events/publish'] }),
      },
    );
    const stream = await open(app, '/realtime/events?room=lobby&user=a');
    expect(stream.status).toBe(200);
    await joined(stream);
  });

  it('takes its path from forRootAsync options, and serves nothing when sse is false', async () => {
    const moved = await startAsync({ sse: { path: '/from/factory' } });
    expect((await open(moved, '/realtime/events?room=lobby&user=a')).status).toBe(404);
    const stream = await open(moved, '/from/factory?room=lobby&user=a');
    expect(stream.status).toBe(200);
    await joined(stream);

    const off = await startAsync({ sse: false });
    expect((await open(off, '/realtime/events?room=lobby&user=a')).status).toBe(404);
    expect((await post(off, '/realtime/events/publish?user=a', {})).status).toBe(404);

    const noPublish = await startAsync({ sse: { publish: false } });
    expect((await open(noPublish, '/realtime/events?room=lobby&user=a')).status).toBe(200);
    expect((await post(noPublish, '/realtime/events/publish?user=a', {})).status).toBe(404);
  });

  it('is listed by @nestjs/swagger under the global prefix', async () => {
    const app = await harness.start({}, {}, { configure: (nest) => nest.setGlobalPrefix('api') });
    const document = SwaggerModule.createDocument(app.app, new DocumentBuilder().build());
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/api/realtime/events', '/api/realtime/events/publish']),
    );
    expect(document.paths['/api/realtime/events']).toHaveProperty('get');
    expect(document.paths['/api/realtime/events/publish']).toHaveProperty('post');
  });

  it('keeps the headers the platform set before it (Express middleware, a Fastify hook) on every answer', async () => {
    const app = await harness.start(
      { authenticate: userFromQuery },
      {},
      {
        configure: (nest) => {
          const http = nest.getHttpAdapter();
          // What @fastify/helmet or a request-id hook does on Fastify: the reply's
          // headers, which a hijacked reply never sends by itself.
          if (http.getType() === 'fastify') {
            (nest as NestFastifyApplication)
              .getHttpAdapter()
              .getInstance()
              .addHook('onRequest', async (_request, reply) => {
                reply.header('x-request-id', 'r1');
              });
          } else {
            nest.use((_request: IncomingMessage, response: ServerResponse, next: () => void) => {
              response.setHeader('x-request-id', 'r1');
              next();
            });
          }
        },
      },
    );
    const stream = await open(app, '/realtime/events?room=lobby&user=a');
    const refused = await open(app, '/realtime/events?user=a');
    const published = await post(app, '/realtime/events/publish?user=a', {});
    const preflight = await fetch(`${httpBase(app)}/realtime/events`, { method: 'OPTIONS' });
    expect([
      [stream.status, stream.response.headers['x-request-id']],
      [refused.status, refused.response.headers['x-request-id']],
      [published.status, published.headers.get('x-request-id')],
      [preflight.status, preflight.headers.get('x-request-id')],
    ]).toEqual([
      [200, 'r1'],
      [400, 'r1'],
      [400, 'r1'],
      [204, 'r1'],
    ]);
  });

  describe('CORS, from `origins`', () => {
    const options = { authenticate: userFromQuery, origins: ['http://app.example'] };
    const page = { origin: 'http://app.example' };

    it('a page of an allowed origin gets the headers a cross-origin EventSource needs', async () => {
      const app = await harness.start(options);
      const stream = await open(app, '/realtime/events?room=lobby&user=a', page);
      expect(stream.status).toBe(200);
      expect(stream.response.headers).toMatchObject({
        'access-control-allow-origin': 'http://app.example',
        'access-control-allow-credentials': 'true',
        vary: 'Origin',
      });
      await joined(stream);
      const { connectionId, publishToken } = dataOf(stream.events[0]!);
      const publish = { connection: connectionId, token: publishToken, room: 'lobby', event: 'e' };
      const published = await post(app, '/realtime/events/publish?user=a', publish, page);
      expect(published.status).toBe(200);
      expect(published.headers.get('access-control-allow-origin')).toBe('http://app.example');
    });

    it('answers a preflight of the publish endpoint, and refuses another origin', async () => {
      const app = await harness.start(options);
      const preflight = (origin: string) =>
        fetch(`${httpBase(app)}/realtime/events/publish`, {
          method: 'OPTIONS',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type, authorization',
          },
        });
      const allowed = await preflight('http://app.example');
      expect(allowed.status).toBe(204);
      expect(Object.fromEntries(allowed.headers)).toMatchObject({
        'access-control-allow-origin': 'http://app.example',
        'access-control-allow-credentials': 'true',
        'access-control-allow-methods': 'GET, POST',
        'access-control-allow-headers': 'content-type, authorization',
      });
      const other = await preflight('http://evil.example');
      expect(other.status).toBe(403);
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const stream = await open(app, '/realtime/events?room=lobby&user=a', {
        origin: 'http://evil.example',
      });
      expect(stream.status).toBe(403);
    });
  });
});
