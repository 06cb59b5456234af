// Traces through @opentelemetry/api: the publish span's context crosses the engine, and
// each node's delivery is a child of it; joins that replay, RPC calls and handshakes
// have spans of their own; without a tracer provider nothing is carried.
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RpcService, type RealtimeModuleOptions } from '../../../lib/index.js';
import type { TestApp } from '../../support/app.js';
import { join, until, userFromQuery, withHarness } from '../../support/fixtures.js';
import { redisAvailable, redisForSuite } from '../../support/redis.js';
import { TestClient, eventIs } from '../../support/ws-client.js';

const SPAN_KIND_PRODUCER = 3;
const SPAN_KIND_CONSUMER = 4;

const exporter = new InMemorySpanExporter();
let contextManager: AsyncLocalStorageContextManager;

/** Registers an in-memory tracer provider for the test, and takes it away after. */
function traced(): void {
  beforeEach(() => {
    contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    trace.setGlobalTracerProvider(provider);
  });
  afterEach(() => {
    exporter.reset();
    trace.disable();
    context.disable();
  });
}

const spansNamed = (name: string): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((span) => span.name === name);

const parentOf = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId;

describe.runIf(redisAvailable())('traces across two nodes on Redis', () => {
  const redis = redisForSuite();
  let tests = 0;
  const harness = withHarness();

  let prefix = '';
  async function nodes(): Promise<[TestApp, TestApp]> {
    prefix = `traces${++tests}:`;
    const options: RealtimeModuleOptions = {
      authenticate: userFromQuery,
      engine: { type: 'redis', url: redis().url, prefix },
      history: { maxCount: 100 },
      presence: false,
    };
    return [await harness.start(options), await harness.start(options)];
  }

  describe('with a tracer provider', () => {
    traced();

    it('a publish is a span; its delivery on every node is a child span in the same trace', async () => {
      const [a, b] = await nodes();
      const alice = await harness.connect(`${a.wsUrl}?user=alice`);
      const bob = await harness.connect(`${b.wsUrl}?user=bob`);
      await join(alice, 'lobby');
      await join(bob, 'lobby');
      await alice.request('rt:publish', { room: 'lobby', event: 'chat', data: 'hi' });
      await bob.next(eventIs('chat'));
      // Node A hears its own message too (alice is excluded: no recipient there).
      await until(() => spansNamed('realtime.deliver').length === 2);

      const [publish] = spansNamed('realtime.publish');
      expect(publish).toBeDefined();
      expect(publish!.kind).toBe(SPAN_KIND_PRODUCER);
      expect(publish!.attributes).toMatchObject({
        'messaging.system': 'nest-realtime',
        'messaging.destination.name': 'lobby',
        'realtime.origin': 'websocket',
      });
      const deliveries = spansNamed('realtime.deliver');
      for (const delivery of deliveries) {
        expect(delivery.kind).toBe(SPAN_KIND_CONSUMER);
        expect(delivery.spanContext().traceId).toBe(publish!.spanContext().traceId);
        expect(parentOf(delivery)).toBe(publish!.spanContext().spanId);
        expect(delivery.attributes['realtime.origin_node']).toBe(a.hub.nodeId);
      }
      const byNode = new Map(
        deliveries.map((span) => [span.attributes['realtime.node'], span.attributes]),
      );
      expect(byNode.get(b.hub.nodeId)).toMatchObject({ 'realtime.recipients': 1 });
      expect(byNode.get(a.hub.nodeId)).toMatchObject({ 'realtime.recipients': 0 });
    });

    it('a join that replays, an RPC call and handshakes have spans', async () => {
      const [a] = await nodes();
      a.app.get(RpcService).register('sum', (params) => (params as number[])[0]! + 1);
      const alice = await harness.connect(`${a.wsUrl}?user=alice`);
      await join(alice, 'lobby');
      const { data } = await alice.request('rt:publish', { room: 'lobby', event: 'x', data: 1 });
      await alice.request('rt:publish', { room: 'lobby', event: 'x', data: 2 });
      const carl = await harness.connect(`${a.wsUrl}?user=carl`);
      await carl.request('rt:join', { room: 'lobby', since: data });
      expect((await carl.request('rt:call', { method: 'sum', params: [1] })).data).toBe(2);
      await expect(TestClient.open(a.wsUrl)).resolves.toBeDefined(); // anonymous: accepted
      await until(() => spansNamed('realtime.handshake').length === 3);

      const [joined] = spansNamed('realtime.join'); // only the replaying join
      expect(spansNamed('realtime.join')).toHaveLength(1);
      expect(joined!.attributes).toMatchObject({
        'realtime.room': 'lobby',
        'realtime.recovered': true,
        'realtime.replayed': 1,
      });
      const [rpc] = spansNamed('realtime.rpc');
      expect(rpc!.attributes).toMatchObject({
        'rpc.method': 'sum',
        'realtime.direction': 'client_to_server',
      });
      const accepted = spansNamed('realtime.handshake').map((span) => span.attributes);
      expect(accepted.every((attributes) => attributes['realtime.outcome'] === 'accepted')).toBe(
        true,
      );
      expect(accepted.map((attributes) => attributes['realtime.connection'])).toContain(
        alice.connectionId,
      );
    });
  });

  describe('without a tracer provider', () => {
    it('records nothing and carries no trace context through the engine', async () => {
      const [a, b] = await nodes();
      const alice = await harness.connect(`${a.wsUrl}?user=alice`);
      const bob = await harness.connect(`${b.wsUrl}?user=bob`);
      await join(alice, 'lobby');
      await join(bob, 'lobby');
      // What the engine publishes on Redis for the room, read by a client of our own.
      const listener = new Redis(redis().url);
      harness.defer(() => listener.quit());
      const payloads: string[] = [];
      const record = (_channel: string, message: string) => payloads.push(message);
      listener.on('smessage', record);
      listener.on('message', record);
      // The room's channel key (see RedisBroker): sharded pub/sub on Redis 7, classic before.
      const key = `${prefix}ch:r:lobby`;
      await listener.ssubscribe(key).catch(() => listener.subscribe(key));
      await alice.request('rt:publish', { room: 'lobby', event: 'chat', data: 'hi' });
      await bob.next(eventIs('chat'));
      await until(() => payloads.some((payload) => payload.includes('"chat"')));
      const header = JSON.parse(payloads.find((p) => p.includes('"chat"'))!.split('\n')[0]!);
      expect(header.n).toBe(a.hub.nodeId); // the origin goes (for the pub/sub lag)...
      expect(header.x).toBeUndefined(); // ...but no trace context
      expect(exporter.getFinishedSpans()).toEqual([]);
    });
  });
});
