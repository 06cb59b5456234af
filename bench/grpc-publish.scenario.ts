import { freePort } from './grpc.scenario.js';
import { connect, memoryOf, MESSAGE_SIZE, within, withPeer, type Figures } from './measure.js';
import { BENCH_ROOM } from './peers/peer.js';

/** The sizes of the PublishStream heap scenario. */
export interface PublishStreamSizes {
  /** Messages written when the server's heap is taken, increasing; the first and last give the slope. */
  offsets: number[];
}

/**
 * Messages written before the client waits for the room to have heard them all:
 * fewer than a server lets wait for their turn (1,000), so that a server which ends
 * a call past that bound (as ours did before issue 20.3) is measured too. The figures
 * are taken with nothing in flight, so the step does not change them.
 */
const STEP = 500;
/** A step whose messages have not all reached the room by then fails the scenario. */
const STEP_TIMEOUT = 60_000;

/**
 * One gRPC `PublishStream` writing messages of about 100 bytes into the bench room,
 * from a grpc-js client in a process of its own (grpc-clients.ts, retries off), with
 * one `Subscribe` call in the room to hear that the server has read them. At each of
 * `offsets` (messages written and heard) the server's heap after GC: `heapUsedAt<n>`;
 * `heapBytesPerMessage` is its slope from the first offset to the last, what the
 * stream keeps for each message for as long as it lives. The stream is then ended,
 * and its summary must count every message, none refused.
 */
export async function publishStream(
  peer: string,
  { offsets }: PublishStreamSizes,
): Promise<Figures> {
  const grpcPort = await freePort();
  return withPeer(
    peer,
    1,
    async (server, _httpPort, [client]) => {
      await connect([client!], peer, grpcPort, 1);
      await client!.ask('openPublishStream', { port: grpcPort });
      const figures: Figures = {};
      let written = 0;
      for (const offset of offsets) {
        while (written < offset) {
          const count = Math.min(STEP, offset - written);
          await client!.ask('publish', { room: BENCH_ROOM, count, size: MESSAGE_SIZE });
          written += count;
          await within(client!.ask('expect', { total: written }), STEP_TIMEOUT, async () => {
            const status = await client!.ask('status');
            return `${peer}: ${written} messages written, not all heard within ${STEP_TIMEOUT} ms (client: ${JSON.stringify(status)})`;
          });
        }
        figures[`heapUsedAt${offset}`] = (await memoryOf(server)).heapUsed;
      }
      const summary = await client!.ask<{ count: number; rejected: unknown[] }>('endPublishStream');
      // `rejected` lists the first refusals, in every version of the summary.
      if (summary.count !== written || summary.rejected.length > 0) {
        throw new Error(`${peer}: ${written} messages written, summary ${JSON.stringify(summary)}`);
      }
      const first = offsets[0]!;
      const last = offsets.at(-1)!;
      figures.heapBytesPerMessage =
        (figures[`heapUsedAt${last}`]! - figures[`heapUsedAt${first}`]!) / (last - first);
      return figures;
    },
    {
      script: 'grpc-clients.js',
      env: { BENCH_GRPC_PORT: String(grpcPort), BENCH_RATE_LIMIT: 'off' },
    },
  );
}
