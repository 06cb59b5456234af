import { performance } from 'node:perf_hooks';

/**
 * What every load-client process counts, whatever it speaks: messages received
 * since the last reset, a wait for a total, and (in latency mode) each message's
 * time from when it was due to its arrival. Client processes answer the driver's
 * `expect`, `reset`, `latency` and `cpu` with `tallyCommands`.
 */
export class Tally {
  /** Messages since the last reset. */
  received = 0;
  private waiting: { target: number; resolve: () => void } | undefined;
  /** Send times of the messages being counted, when latency is on. */
  stamps: number[] | undefined;
  private latencies: number[] = [];

  /** Counts `count` messages; their send times, if any, are in `stamps`. */
  add(count: number): void {
    if (count === 0) return;
    const { stamps } = this;
    if (stamps && stamps.length > 0) {
      const now = performance.timeOrigin + performance.now();
      for (const stamp of stamps) this.latencies.push(now - stamp);
      stamps.length = 0;
    }
    this.received += count;
    if (this.waiting && this.received >= this.waiting.target) {
      this.waiting.resolve();
      this.waiting = undefined;
    }
  }

  /** Resolves, with the time, once `total` messages have arrived since the last reset. */
  expect(total: number): Promise<{ at: number }> {
    return new Promise<void>((resolve) => {
      if (this.received >= total) resolve();
      else this.waiting = { target: total, resolve };
    }).then(() => ({ at: performance.timeOrigin + performance.now() }));
  }

  reset(): void {
    this.received = 0;
    this.latencies = [];
  }

  /** Turns latency mode on, or off with the summary of what it saw. */
  latency(on: boolean): { samples: number; p50: number; p99: number; max: number } | undefined {
    this.stamps = on ? [] : undefined;
    if (on) return undefined;
    const sorted = this.latencies.toSorted((a, b) => a - b);
    return {
      samples: sorted.length,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? 0,
    };
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** CPU time this process has used, user and system, in microseconds. */
export function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** The IPC commands every client process answers the same way. */
export function tallyCommands(tally: Tally) {
  return {
    expect: ({ total }: { total: number }) => tally.expect(total),
    reset: () => tally.reset(),
    latency: ({ on }: { on: boolean }) => tally.latency(on),
    cpu: () => cpuMicros(),
  };
}

/**
 * Runs `open(index)` for indexes 0 to count - 1, at most `concurrency` at once,
 * and resolves, once every one is done, with the milliseconds it took.
 */
export async function openConcurrently(
  count: number,
  concurrency: number,
  open: (index: number) => Promise<void>,
): Promise<number> {
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < count) await open(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return performance.now() - started;
}

/** What the driver's `connect` asks of a client process. */
export interface ConnectArgs {
  peer: string;
  port: number;
  count: number;
  room: string;
  concurrency: number;
  /** Source addresses to spread the sockets over (WebSocket clients). */
  localAddresses?: string[];
}
