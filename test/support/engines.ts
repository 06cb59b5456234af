import type { ModuleMetadata } from '@nestjs/common';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { RealtimeHub, RealtimeModuleOptions } from '../../lib/index.js';
import type { TestApp } from './app.js';
import { withHarness, type AppFixture } from './fixtures.js';
import { redisAvailable, startRedis, type RedisServer } from './redis.js';

/**
 * One engine the core suites run over (`describe.each(ENGINES)('on $name', ...)`):
 *
 * - `memory`: one app on the embedded memory engine;
 * - `two nodes`: two apps on one shared memory store, the clients on one node and the
 *   publisher (`fixture.publisher`) on the other, as test/e2e/cluster/cross-node does;
 * - `redis`: one app on a real redis-server started for the suite (test/support/redis.ts:
 *   without redis-server the case is left out, loudly; under CI=true that fails).
 */
export interface EngineCase {
  readonly name: 'memory' | 'two nodes' | 'redis';
  /** How many app nodes a fixture of this engine starts. */
  readonly nodes: 1 | 2;
}

export const MEMORY: EngineCase = { name: 'memory', nodes: 1 };
export const TWO_NODES: EngineCase = { name: 'two nodes', nodes: 2 };
export const REDIS: EngineCase = { name: 'redis', nodes: 1 };

/** Every engine of the matrix here: Redis only where redis-server is (loud otherwise). */
export const ENGINES: readonly EngineCase[] = [
  MEMORY,
  TWO_NODES,
  ...(redisAvailable() ? [REDIS] : []),
];

/** An app fixture on one engine of the matrix. */
export interface EngineFixture extends AppFixture {
  /** The node that clients connect to (`app`), whose hub is `hub`. */
  readonly app: TestApp;
  /** The node that server code publishes from: another node than `app` on `two nodes`. */
  readonly publisher: TestApp;
  /** The publisher's hub. */
  readonly publish: RealtimeHub;
}

let clusters = 0;

/**
 * A fresh app (or pair of nodes) on `engine` for each test of the enclosing describe,
 * with these options; see {@link EngineCase}.
 */
export function engineFixture(
  engine: EngineCase,
  options: RealtimeModuleOptions = {},
  metadata?: ModuleMetadata,
): EngineFixture {
  const harness = withHarness();
  let redis: RedisServer | undefined;
  if (engine === REDIS) {
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(() => redis?.stop());
  }
  let nodes: TestApp[] = [];
  beforeEach(async () => {
    const cluster = `engines-${process.pid}-${++clusters}`;
    const engineOptions: RealtimeModuleOptions['engine'] =
      engine === REDIS
        ? { type: 'redis', url: redis!.url, prefix: `${cluster}:` }
        : engine === TWO_NODES
          ? { type: 'memory', shared: cluster }
          : { type: 'memory' };
    const node = () => harness.start({ ...options, engine: engineOptions }, metadata);
    nodes = [];
    for (let i = 0; i < engine.nodes; i++) nodes.push(await node());
  });
  const node = (i: number): TestApp => {
    const found = nodes[i] ?? nodes[0];
    if (!found) throw new Error('no app yet: use the fixture inside a test or hook');
    return found;
  };
  return {
    get app() {
      return node(0);
    },
    get hub() {
      return node(0).hub;
    },
    get publisher() {
      return node(1);
    },
    get publish() {
      return node(1).hub;
    },
    harness,
    connect: (user) => {
      const { wsUrl } = node(0);
      return harness.connect(
        user === undefined ? wsUrl : `${wsUrl}?user=${encodeURIComponent(user)}`,
      );
    },
  };
}
