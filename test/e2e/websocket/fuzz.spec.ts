// Fuzzing a live server: tens of thousands of random and malformed WebSocket frames
// (broken JSON, wrong types, huge numbers, deep nesting, binary, invalid UTF-8,
// oversized), malformed SSE requests and malformed gRPC requests. The server stays up,
// every frame gets its documented answer or close, nothing is logged as an error or
// rejected unhandled, and the heap comes back to where it was.
import type { LoggerService } from '@nestjs/common';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { RealtimeModuleOptions } from '../../../lib/index.js';
import { PLATFORMS, usePlatform } from '../../support/app.js';
import { until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { startGrpcApp } from '../../support/grpc.js';
import { seededRandom } from '../../support/random.js';
import { httpBase } from '../../support/sse-client.js';
import { TestClient } from '../../support/ws-client.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The heap after two full collections, in MiB. */
async function settledHeap(): Promise<number> {
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** A logger that keeps what the app logs as errors. */
function errorRecorder(): LoggerService & { errors: unknown[][] } {
  const errors: unknown[][] = [];
  return {
    errors,
    error: (...args: unknown[]) => errors.push(args),
    warn: () => undefined,
    log: () => undefined,
  };
}

const BUILTINS = [
  'rt:join',
  'rt:leave',
  'rt:publish',
  'rt:room',
  'rt:status',
  'rt:statuses',
  'rt:watch',
  'rt:unwatch',
  'rt:members',
  'rt:call',
  'rt:ack',
  'rt:reply',
  'rt:pong',
  'rt:ice',
  'rt:peer-join',
  'rt:peer-leave',
  'rt:signal',
  'rt:nope',
  'chat',
  '',
];

/** Random JSON-ish values: deep, wide, huge numbers, odd strings. */
function valueMaker(random: () => number) {
  const int = (n: number) => Math.floor(random() * n);
  const text = (max: number) =>
    Array.from({ length: int(max) }, () => String.fromCodePoint(int(0x2fff))).join('');
  const value = (depth: number): unknown => {
    switch (int(depth > 4 ? 6 : 9)) {
      case 0:
        return null;
      case 1:
        return random() < 0.5;
      case 2:
        return [1e308, -1e308, 2 ** 53 + 1, -0, 0.1, 1.2345678901234568e29][int(6)];
      case 3:
        return text(30);
      case 4:
        return ['', 'rt:x', 'lobby', 'a'.repeat(300), '\u0000', 'server'][int(6)];
      case 5:
        return int(1000);
      case 6:
        return Array.from({ length: int(5) }, () => value(depth + 1));
      default: {
        const object: Record<string, unknown> = {};
        const keys = ['room', 'event', 'data', 'since', 'status', 'users', 'to', 'id', 'latest'];
        for (let i = int(5); i > 0; i--) {
          object[random() < 0.7 ? keys[int(keys.length)]! : text(6)] = value(depth + 1);
        }
        return object;
      }
    }
  };
  return { int, text, value };
}

/**
 * One frame: what it is, and the answer docs/protocol.md gives it: a reply with its
 * id (JSON objects carry a fresh valid id), one rt:error (the rest), or none (an
 * `rt:reply`: the server never answers one).
 */
function frameMaker(random: () => number) {
  const { int, text, value } = valueMaker(random);
  let id = 0;
  return (): { data: string | Buffer; binary: boolean; id?: string; answered: boolean } => {
    const kind = int(20);
    const answered = true;
    if (kind === 0) return { data: Buffer.from(text(40)), binary: true, answered };
    if (kind === 1) {
      return { data: `${'['.repeat(5_000)}${']'.repeat(5_000)}`, binary: false, answered };
    }
    if (kind === 2) return { data: text(80), binary: false, answered };
    if (kind === 3) {
      return { data: JSON.stringify(value(0)).slice(0, 1 + int(40)), binary: false, answered };
    }
    if (kind === 4) return { data: JSON.stringify([value(0)]), binary: false, answered };
    const frameId = `f${++id}`;
    const frame: Record<string, unknown> = {
      event: random() < 0.9 ? BUILTINS[int(BUILTINS.length)] : value(1),
      id: frameId,
    };
    if (random() < 0.9) frame.data = value(0);
    if (kind === 5) {
      // Deep nesting inside data.
      let deep: unknown = 1;
      for (let i = 0; i < 2_000; i++) deep = { d: deep };
      frame.data = deep;
    }
    // The wire has no lone surrogates: what a cut leaves becomes U+FFFD both ways.
    const data = Buffer.from(JSON.stringify(frame)).toString();
    if (frame.event === 'rt:reply') return { data, binary: false, answered: false };
    return { data, binary: false, id: frameId, answered };
  };
}

describe('fuzzing a live server', () => {
  const harness = withHarness();

  // Frames after the upgrade, which the HTTP platform takes no part in: over Express
  // only (handshake, origins, limits and the rest run over both platforms).
  it('answers 20,000 random and malformed frames as documented, logs no error, and gives its memory back', async () => {
    const logger = errorRecorder();
    const rejections: unknown[] = [];
    const record = (reason: unknown) => rejections.push(reason);
    process.on('unhandledRejection', record);
    process.on('uncaughtException', record);
    harness.defer(() => {
      process.off('unhandledRejection', record);
      process.off('uncaughtException', record);
    });
    const options: RealtimeModuleOptions = {
      authenticate: userFromQuery,
      rateLimit: false, // the handlers are under test here; the limiter below
      websocket: { maxPayload: 64 * 1024 },
      webrtc: {},
      history: { maxCount: 10 },
    };
    const app = await harness.start(options, {}, { logger });
    const url = (user: string) => `${app.wsUrl}?user=${user}`;
    // Warm up (JIT, the app's first allocations), then measure where the heap is.
    const warm = await TestClient.connect(url('warm'));
    await warm.request('rt:join', { room: 'warm' });
    await warm.close();
    const baseline = await settledHeap();

    const random = seededRandom(20261126);
    const nextFrame = frameMaker(random);
    const sockets = await Promise.all([0, 1, 2, 3].map((i) => TestClient.connect(url(`fuzz${i}`))));
    let sent = 0;
    for (let round = 0; round < 10; round++) {
      await Promise.all(
        sockets.map(async (socket) => {
          const expected = { replies: new Set<string>(), errors: 0 };
          const before = socket.frames.length;
          for (let i = 0; i < 500; i++) {
            const frame = nextFrame();
            socket.socket.send(frame.data, { binary: frame.binary });
            if (frame.id) expected.replies.add(frame.id);
            else if (frame.answered) expected.errors++;
            sent++;
          }
          // Each frame is answered once: a reply with its id, or an rt:error.
          await until(() => {
            const answers = socket.frames.slice(before);
            const ours = (f: { id?: unknown }) => expected.replies.has(String(f.id));
            const replies = answers.filter((f) => f.event === 'rt:reply' && ours(f));
            // A frame without our id answers with an rt:error, or, when its random
            // fields held a valid id, with a reply carrying that one.
            const others = answers.filter(
              (f) => f.event === 'rt:error' || (f.event === 'rt:reply' && !ours(f)),
            );
            return replies.length === expected.replies.size && others.length >= expected.errors;
          }, 20_000);
          socket.frames.splice(0); // room messages and presence: not counted here
        }),
      );
    }
    expect(sent).toBe(20_000);
    for (const socket of sockets) expect(socket.closeCode).toBeUndefined();

    // Below the frame API: invalid UTF-8 closes with 1007, an oversized frame with 1009.
    const invalid = await TestClient.connect(url('utf8'));
    invalid.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(await invalid.closed).toBe(1007);
    const oversized = await TestClient.connect(url('big'));
    oversized.socket.send('x'.repeat(64 * 1024 + 1));
    expect(await oversized.closed).toBe(1009);

    // A flood past the rate limit, on an app that has one: RATE_LIMITED, then 4003.
    const limited = await harness.start({ authenticate: userFromQuery }, {}, { logger });
    const flooder = await TestClient.connect(`${limited.wsUrl}?user=flood`);
    for (let i = 0; i < 2_000; i++) flooder.send({ event: 'rt:pong' });
    expect(await flooder.closed).toBe(4003);

    // Everyone else is still served.
    const witness = await TestClient.connect(url('witness'));
    expect((await witness.request('rt:join', { room: 'after' })).data).toMatchObject({
      name: 'after',
    });
    await Promise.all([...sockets, witness].map((socket) => socket.close()));
    await until(() => app.hub.connections.count() === 0, 5_000);
    const after = await settledHeap();
    console.log(
      `fuzz: ${sent} frames; heap ${baseline.toFixed(1)} MiB before, ${after.toFixed(1)} MiB after`,
    );
    expect(after - baseline).toBeLessThan(16);
    expect(rejections).toEqual([]);
    expect(logger.errors).toEqual([]);
  }, 120_000);

  // The HTTP platform parses these requests (Express's and Fastify's body parsers differ).
  describe.each(PLATFORMS)('over %s', (platform) => {
    usePlatform(platform);

    it('answers malformed SSE requests with documented statuses, and never 500', async () => {
      const logger = errorRecorder();
      const app = await harness.start({ authenticate: userFromQuery }, {}, { logger });
      const random = seededRandom(7);
      const { int, text, value } = valueMaker(random);
      const statuses = new Map<number, number>();
      const base = `${httpBase(app)}/realtime/events`;
      for (let i = 0; i < 300; i++) {
        const query = new URLSearchParams();
        for (let r = int(4); r > 0; r--) query.append(random() < 0.5 ? 'room' : text(4), text(40));
        if (random() < 0.5) query.set('user', `u${text(9)}`); // authenticate takes any non-empty one
        if (random() < 0.3) query.set('lastEventId', text(60));
        const headers: Record<string, string> = {};
        if (random() < 0.3) headers['last-event-id'] = encodeURIComponent(text(100));
        const post = random() < 0.4;
        const response = await fetch(post ? `${base}/publish?${query}` : `${base}?${query}`, {
          method: post ? 'POST' : 'GET',
          headers: {
            ...headers,
            ...(post && { 'content-type': random() < 0.8 ? 'application/json' : 'text/plain' }),
          },
          ...(post && { body: random() < 0.5 ? JSON.stringify(value(0)) : text(200) }),
        });
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        await response.body?.cancel();
      }
      console.log(`sse fuzz statuses: ${JSON.stringify(Object.fromEntries(statuses))}`);
      for (const status of statuses.keys())
        expect([200, 400, 401, 403, 404, 413, 415, 429]).toContain(status);
      expect(logger.errors).toEqual([]);
      await until(() => app.hub.connections.count() === 0, 5_000);
    }, 60_000);
  });

  // gRPC has a server of its own: no HTTP platform.
  it('answers malformed gRPC requests with a status, and keeps serving', async () => {
    const logger = errorRecorder();
    const app = await startGrpcApp({ authenticate: userFromQuery }, {}, { logger });
    harness.track(app);
    const random = seededRandom(11);
    const Generic = grpc.makeGenericClientConstructor({}, 'Realtime');
    const client = new Generic(app.grpcUrl, grpc.credentials.createInsecure());
    harness.defer(() => client.close());
    const codes = new Map<number, number>();
    const methods = ['Publish', 'GetRoom', 'GetStatuses', 'Call'];
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(
        Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256)),
      );
      const method = methods[Math.floor(random() * methods.length)]!;
      const code = await new Promise<number>((resolve) => {
        client.makeUnaryRequest(
          `/realtime.v1.Realtime/${method}`,
          (argument: Buffer) => argument,
          (reply: Buffer) => reply,
          bytes,
          (error: grpc.ServiceError | null) => resolve(error ? error.code : grpc.status.OK),
        );
      });
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    console.log(`grpc fuzz statuses: ${JSON.stringify(Object.fromEntries(codes))}`);
    const documented = [
      grpc.status.OK,
      grpc.status.INVALID_ARGUMENT,
      grpc.status.NOT_FOUND,
      grpc.status.UNIMPLEMENTED,
      grpc.status.INTERNAL,
      grpc.status.PERMISSION_DENIED,
      grpc.status.UNAUTHENTICATED,
      grpc.status.FAILED_PRECONDITION,
    ];
    for (const code of codes.keys()) expect(documented).toContain(code);
    // Still serving: a well-formed call is answered.
    const realtime = app.realtime({ user: 'after' });
    await expect(
      realtime.unary('Publish', { room: 'r', event: 'e', data: '1' }),
    ).resolves.toMatchObject({
      room: 'r',
    });
    realtime.close();
    expect(logger.errors).toEqual([]);
  }, 60_000);
});
