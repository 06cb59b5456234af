// An engine of the user's own (`engine: { type: 'custom', engine }`): it passes the
// exported conformance suite, and a real app runs on it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../../lib/client/index.js';
import {
  MemoryEngine,
  RealtimeConfigError,
  RealtimeEngine,
  type Broker,
  type EngineHandler,
  type EnginePublication,
  type RoomPublication,
} from '../../../lib/index.js';
import { resolveRealtimeOptions } from '../../../lib/realtime.options.js';
import { describeEngineConformance } from '../../../lib/testing/index.js';
import { until, withHarness } from '../../support/fixtures.js';

/** A broker of the user's own: the memory one, counting what goes through it. */
class CountingBroker implements Broker {
  published = 0;
  numbered = 0;

  constructor(private readonly inner: Broker) {}

  publish(publication: EnginePublication) {
    this.published++;
    return this.inner.publish(publication);
  }

  publishToRoom(message: RoomPublication) {
    this.numbered++;
    return this.inner.publishToRoom(message);
  }

  subscribe(channel: string, room?: string) {
    return this.inner.subscribe(channel, room);
  }

  unsubscribe(channel: string) {
    return this.inner.unsubscribe(channel);
  }

  readRoom(...args: Parameters<Broker['readRoom']>) {
    return this.inner.readRoom(...args);
  }
}

/** A composition a user writes: the memory engine's stores, a broker of their own. */
class CountingEngine implements RealtimeEngine {
  private readonly memory = new MemoryEngine();
  readonly broker = new CountingBroker(this.memory.broker);
  readonly rooms = this.memory.rooms;
  readonly presence = this.memory.presence;
  readonly controller = this.memory.controller;
  readonly standalone = true;

  start(nodeId: string, handler: EngineHandler): Promise<void> {
    return this.memory.start(nodeId, handler);
  }

  close(): Promise<void> {
    return this.memory.close();
  }
}

describeEngineConformance('a custom', async () => new CountingEngine(), {
  describe,
  it,
  expect,
  beforeEach,
  afterEach,
});

describe('a custom engine', () => {
  const harness = withHarness();

  it('serves an app: a WebSocket client joins, publishes and gets its message', async () => {
    const engine = new CountingEngine();
    const app = await harness.start({ engine: { type: 'custom', engine } });
    expect(app.app.get(RealtimeEngine)).toBe(engine);
    const client = new RealtimeClient(app.wsUrl, { WebSocket });
    harness.defer(() => client.close());
    const room = await client.join('lobby');
    const heard: unknown[] = [];
    room.on('chat', (data) => heard.push(data));
    await client.publish('lobby', 'chat', 'hello', { echo: true });
    await until(() => heard.length === 1);
    expect(heard).toEqual(['hello']);
    expect(engine.broker.numbered).toBe(1);
    expect(await engine.rooms.get('lobby')).toMatchObject({ size: 1 });
  });

  it('is refused at start-up when it is missing or is no engine', () => {
    expect(() => resolveRealtimeOptions({ engine: { type: 'custom' } as never })).toThrow(
      RealtimeConfigError,
    );
    expect(() =>
      resolveRealtimeOptions({ engine: { type: 'custom', engine: {} as RealtimeEngine } }),
    ).toThrow('engine.engine');
  });
});
