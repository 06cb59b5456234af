import type { ModuleMetadata } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import type { RealtimeHub, RealtimeModuleOptions } from '../../lib/index.js';
import { startApp, type StartOptions, type TestApp } from './app.js';
import { TestClient, isAnswer, type Frame } from './ws-client.js';

// -- cleanup ----------------------------------------------------------------------

/** What a raw upgrade request came to: see {@link Harness.handshake}. */
export interface Handshake {
  /** 101 if the socket opened, else the HTTP status of the refusal. */
  status: number;
  /** The body of a refusal. */
  body: string;
  /** Set if the socket ever opened, even after the handshake result was known. */
  opened: boolean;
  socket: WebSocket;
}

/**
 * Keeps what a test opens (apps, clients, raw sockets) and closes it all in
 * `cleanup()`, whatever the test did to it. Its methods are bound, so they can be
 * destructured: `const { start, connect } = withHarness();`.
 */
export class Harness {
  private readonly apps: TestApp[] = [];
  private readonly clients: TestClient[] = [];
  private readonly sockets: WebSocket[] = [];
  private readonly deferred: (() => unknown)[] = [];

  /** `startApp`, closed at cleanup. */
  readonly start = async (
    options?: RealtimeModuleOptions,
    metadata?: ModuleMetadata,
    nest?: StartOptions,
  ): Promise<TestApp> => this.track(await startApp(options, metadata, nest));

  /** Closes `app` at cleanup (for apps not made by `start`, such as `listen`'s). */
  readonly track = (app: TestApp): TestApp => {
    this.apps.push(app);
    return app;
  };

  /** Stops tracking `app`, for a test that closes it itself. */
  readonly forget = (app: TestApp): void => {
    const index = this.apps.indexOf(app);
    if (index !== -1) this.apps.splice(index, 1);
  };

  /** `TestClient.connect` (waits for `rt:connected`), closed at cleanup. */
  readonly connect = async (url: string, options?: ClientOptions): Promise<TestClient> =>
    this.trackClient(await TestClient.connect(url, options));

  /** `TestClient.open` (waits for no frame), closed at cleanup. */
  readonly open = async (url: string, options?: ClientOptions): Promise<TestClient> =>
    this.trackClient(await TestClient.open(url, options));

  /** Terminates a raw `ws` socket at cleanup, ignoring its errors. */
  readonly trackSocket = <T extends WebSocket>(socket: T): T => {
    this.sockets.push(socket);
    return socket;
  };

  /** Runs `dispose` at cleanup (for anything else the test opened). */
  readonly defer = (dispose: () => unknown): void => {
    this.deferred.push(dispose);
  };

  /**
   * Attempts a WebSocket handshake; resolves with status 101 once the socket opens, or
   * with the HTTP status and body of a refusal. The socket is terminated at cleanup.
   */
  readonly handshake = (url: string): Promise<Handshake> => {
    const socket = this.trackSocket(new WebSocket(url));
    const result: Handshake = { status: 0, body: '', opened: false, socket };
    return new Promise((resolve, reject) => {
      socket.on('error', reject);
      socket.on('open', () => {
        result.opened = true;
        result.status = 101;
        resolve(result);
      });
      socket.on('unexpected-response', (_request, response) => {
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (result.body += chunk));
        response.on('end', () => {
          result.status = response.statusCode ?? 0;
          resolve(result);
        });
      });
    });
  };

  /** Closes the clients (and waits for it), terminates the raw sockets, then closes the apps. */
  readonly cleanup = async (): Promise<void> => {
    await Promise.all(this.clients.splice(0).map((client) => client.close()));
    for (const socket of this.sockets.splice(0)) {
      socket.on('error', () => undefined);
      socket.terminate();
    }
    for (const dispose of this.deferred.splice(0)) await dispose();
    await Promise.all(this.apps.splice(0).map((app) => app.close()));
  };

  private trackClient(client: TestClient): TestClient {
    this.clients.push(client);
    return client;
  }
}

/** A Harness cleaned up after each test of the enclosing describe (or file). */
export function withHarness(): Harness {
  const harness = new Harness();
  afterEach(() => harness.cleanup());
  return harness;
}

// -- one app for a suite ----------------------------------------------------------

/** The app of the running test, from {@link appForEachTest} or {@link appForAllTests}. */
export interface AppFixture {
  readonly app: TestApp;
  readonly hub: RealtimeHub;
  /** Cleaned up after each test; for extra apps, clients and sockets. */
  readonly harness: Harness;
  /** Connects to the app as `user` (`?user=`; anonymous without one), until the test ends. */
  connect(user?: string): Promise<TestClient>;
}

/** A fresh app for each test of the enclosing describe (or file); see `startApp`. */
export function appForEachTest(
  options?: RealtimeModuleOptions,
  metadata?: ModuleMetadata,
): AppFixture {
  return appFixture('each', options, metadata);
}

/** One app for all the tests of the enclosing describe (or file); clients still end with each test. */
export function appForAllTests(
  options?: RealtimeModuleOptions,
  metadata?: ModuleMetadata,
): AppFixture {
  return appFixture('all', options, metadata);
}

function appFixture(
  lifetime: 'each' | 'all',
  options?: RealtimeModuleOptions,
  metadata?: ModuleMetadata,
): AppFixture {
  const harness = withHarness();
  let current: TestApp | undefined;
  if (lifetime === 'each') {
    beforeEach(async () => {
      current = await harness.start(options, metadata);
    });
  } else {
    beforeAll(async () => {
      current = await startApp(options, metadata);
    });
    afterAll(() => current?.close());
  }
  const app = (): TestApp => {
    if (!current) throw new Error('no app yet: use the fixture inside a test or hook');
    return current;
  };
  return {
    get app() {
      return app();
    },
    get hub() {
      return app().hub;
    },
    harness,
    connect: (user) => {
      const { wsUrl } = app();
      return harness.connect(
        user === undefined ? wsUrl : `${wsUrl}?user=${encodeURIComponent(user)}`,
      );
    },
  };
}

// -- authentication ---------------------------------------------------------------

/** The value of query parameter `name` in a handshake request's URL, or null. */
export function queryParam(request: IncomingMessage, name: string): string | null {
  return new URL(request.url ?? '/', 'http://x').searchParams.get(name);
}

/** An `authenticate` hook: `?user=<id>` becomes the userId; without it the connection is anonymous. */
export function userFromQuery(request: IncomingMessage): { userId: string | undefined } {
  return { userId: queryParam(request, 'user') ?? undefined };
}

// -- waiting and frames -----------------------------------------------------------

/** Polls until `check` holds (server-side cleanup is asynchronous to the client). */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeout = 2_000,
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Joins a room and returns the reply's data, failing the test on an error reply. */
export async function join(client: TestClient, room: string): Promise<any> {
  const reply = await client.request('rt:join', { room });
  expect(reply.error).toBeUndefined();
  return reply.data;
}

/** Every frame received and not consumed yet, after `ms` of quiet. */
export function leftovers(client: TestClient, ms = 150): Promise<Frame[]> {
  return client.collect(() => true, ms);
}

/** The documented error reply of a frame with an id. */
export function errorReply(id: string | number, code: string): Frame {
  return { event: 'rt:reply', id, error: { code, message: expect.any(String) } };
}

let aliveId = 0;

/**
 * Proves the connection is still served: a good rt:join (of a room no one is in) gets
 * its reply, and no other answer (a second error, a stray reply) has arrived before it.
 */
export async function expectAlive(client: TestClient): Promise<void> {
  const room = `alive-${++aliveId}`;
  const reply = await client.request('rt:join', { room });
  expect(reply).toEqual({
    event: 'rt:reply',
    id: reply.id,
    data: expect.objectContaining({ name: room, size: 1 }),
  });
  expect(client.frames.filter(isAnswer)).toEqual([]);
}

/** Records the process's uncaught exceptions until the test ends. */
export function recordUncaught(harness: Harness): unknown[] {
  const errors: unknown[] = [];
  const listener = (error: unknown) => errors.push(error);
  process.on('uncaughtException', listener);
  harness.defer(() => process.off('uncaughtException', listener));
  return errors;
}

/**
 * For a test that needs what this machine lacks: says so loudly and returns false (the
 * caller skips), or, under CI=true (which installs everything), throws.
 */
export function skipLoudly(message: string): false {
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: this is a failure)`);
  console.warn(`\n!!! ${message} !!!\n`);
  return false;
}
