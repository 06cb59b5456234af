/**
 * A Prometheus text exposition read back, to look samples up by name and labels. Our
 * own small reader: it understands what prom-client writes (no timestamps, no escapes
 * in label values beyond `\"`).
 */
export class Scrape {
  private readonly samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  /** `# TYPE` lines: metric name -> type. */
  readonly types = new Map<string, string>();
  /** `# HELP` lines: metric name -> help. */
  readonly helps = new Map<string, string>();

  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      if (line.startsWith('# TYPE ')) {
        const [name, type] = line.slice(7).split(' ');
        this.types.set(name!, type!);
        continue;
      }
      if (line.startsWith('# HELP ')) {
        const rest = line.slice(7);
        const cut = rest.indexOf(' ');
        this.helps.set(rest.slice(0, cut), rest.slice(cut + 1));
        continue;
      }
      if (line === '' || line.startsWith('#')) continue;
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
        labels[key!] = value!;
      }
      this.samples.push({ name: match[1]!, labels, value: Number(match[3]) });
    }
  }

  /**
   * The value of the one sample of `name` whose labels include `labels`, summed when
   * several match (all transports, say); 0 when none does.
   */
  value(name: string, labels: Record<string, string> = {}): number {
    let total = 0;
    for (const sample of this.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) {
        total += sample.value;
      }
    }
    return total;
  }

  /** Every sample of `name`, with its labels. */
  series(name: string): { labels: Record<string, string>; value: number }[] {
    return this.samples.filter((sample) => sample.name === name);
  }
}

/** GETs `url` and reads the exposition; throws on another status than 200. */
export async function scrape(url: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(url, { headers });
  if (response.status !== 200) throw new Error(`GET ${url}: ${response.status}`);
  return new Scrape(await response.text());
}
