import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);

// Not a benchmark: a run of a few seconds proving that every scenario still starts
// and finishes for every peer. Figures come from `npm run bench` (bench/RESULTS.md).
describe('bench smoke run', () => {
  beforeAll(async () => {
    // The bench loads the library as a package, from dist/: build it fresh.
    await run('npx', ['tsc', '-p', 'tsconfig.build.json']);
    await run('npx', ['tsc', '-p', 'tsconfig.bench.json']);
  }, 120_000);

  it('runs every scenario for every peer', async () => {
    const { stdout } = await run('node', ['bench/dist/run.js', '--smoke'], { timeout: 240_000 });
    const websocket = ['nest-realtime', 'ws-coalesced', 'ws', 'socketio'];
    const runs: Record<string, string[]> = {
      fanout: [...websocket, 'nest-realtime-batched'],
      latency: [...websocket, 'nest-realtime-batched'],
      memory: websocket,
      connections: websocket,
      storm: websocket,
      crossnode: ['nest-realtime', 'socketio', 'nest-realtime-batched'],
      scale: websocket,
      presence: ['nest-realtime'],
      sse: ['nest-realtime', 'nest-sse'],
      grpc: ['nest-realtime', 'grpc-js', 'grpc-js-encoded'],
      'grpc-publish-stream-heap': ['nest-realtime', 'grpc-js'],
    };
    for (const [scenario, peers] of Object.entries(runs)) {
      for (const peer of peers) {
        expect(stdout).toMatch(new RegExp(`^${scenario} ${peer} \\(\\d+ ms\\): \\{"`, 'm'));
      }
    }
    expect(stdout).toMatch(/^connections nest-realtime .*"dropped":0/m);
  }, 240_000);
});
