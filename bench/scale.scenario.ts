import {
  burstRounds,
  connect,
  LOCAL_ADDRESSES as localAddresses,
  memoryOf,
  withPeer,
  type Figures,
} from './measure.js';

/**
 * Scaling curves: one server, clients added up to each of `points` in turn (over
 * `processes` client processes, as one process may hold 20,000 descriptors); at
 * each point, server RSS and heap per connection after GC, then fan-out bursts of
 * `burst` messages to all of them. Figures are named by point: `...At5000`.
 */
export function scale(
  peer: string,
  sizes: { points: number[]; burst: number; rounds: number; processes: number },
): Promise<Figures> {
  return withPeer(peer, sizes.processes, async (server, port, clients) => {
    const figures: Figures = {};
    const before = await memoryOf(server);
    let held = 0;
    for (const point of sizes.points) {
      await connect(clients, peer, port, point - held, { concurrency: 500, localAddresses });
      held = point;
      const now = await memoryOf(server);
      figures[`rssBytesPerConnectionAt${point}`] = (now.rss - before.rss) / point;
      figures[`heapBytesPerConnectionAt${point}`] = (now.heapUsed - before.heapUsed) / point;
      const fanout = await burstRounds(server, clients, point, sizes);
      figures[`deliveriesPerSecondAt${point}`] = fanout.deliveriesPerSecond!;
      figures[`cpuMicrosPerDeliveryAt${point}`] = fanout.cpuMicrosPerDelivery!;
      figures[`clientCpuPercentAt${point}`] = fanout.clientCpuPercent!;
    }
    return figures;
  });
}
