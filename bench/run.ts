import { readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { charts, markdown, type Results, type Run } from './report.js';
import { median, medianFigures } from './measure.js';
import {
  FULL,
  SCENARIOS,
  SMOKE,
  type Figures,
  type Scenario,
  type ScenarioName,
} from './scenarios.js';

// npm run bench [-- <scenario>...] [--smoke] [--peers=ws,socketio,nest-realtime] [--report]
//
// Every scenario runs each of its peers, one after the other, in this one run, so
// that the ratios compare figures taken on the same machine at the same time.
// Results go to bench/RESULTS.md, bench/results.json and the charts (not for
// --smoke or --peers).

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, '..');
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const peersArg = args.find((a) => a.startsWith('--peers='));
const only = peersArg?.slice('--peers='.length).split(',');
const asked = args.filter((a) => !a.startsWith('--')) as ScenarioName[];
for (const name of asked) {
  if (!(name in SCENARIOS)) {
    console.error(`unknown scenario "${name}"; known: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exit(2);
  }
}
const scenarios = asked.length > 0 ? asked : (Object.keys(SCENARIOS) as ScenarioName[]);
const sizes = smoke ? SMOKE : FULL;

// A run of some scenarios keeps the figures of the others from the last full run.
const previousRun = await readFile(join(benchDir, 'results.json'), 'utf8')
  .then((text) => JSON.parse(text) as Run)
  .catch(() => undefined);
if (args.includes('--report')) {
  // Only rewrite RESULTS.md and the chart from results.json, measuring nothing.
  if (!previousRun) throw new Error('no bench/results.json to report on');
  await writeReport(previousRun);
  process.exit(0);
}
const results: Results = smoke ? {} : { ...previousRun?.results };
const machine = `on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`;
// Scenarios not run now keep the date of the run that measured them.
const measured: Partial<Record<ScenarioName, string>> = { ...previousRun?.measured };
const load: Partial<Record<ScenarioName, Record<string, number>>> = { ...previousRun?.load };
for (const scenario of scenarios) {
  const { peers, run: runPeer, runs }: Scenario = SCENARIOS[scenario];
  const chosen = peers.filter((peer) => !only || only.includes(peer));
  const samples = new Map(chosen.map((peer) => [peer, [] as Figures[]]));
  const loads = new Map(chosen.map((peer) => [peer, [] as number[]]));
  measured[scenario] = `${new Date().toISOString()} ${machine}`;
  const count = runs?.(sizes) ?? 1;
  for (let i = 0; i < count; i++) {
    // Every other pass takes the peers in reverse (a, b, b, a, ...), so that the
    // machine drifting over the run favours none of them.
    for (const peer of i % 2 === 0 ? chosen : chosen.toReversed()) {
      // The machine's load average (1 min) as this peer's run starts: a busy machine shows here.
      loads.get(peer)!.push(loadavg()[0]!);
      const started = Date.now();
      const figures = await runPeer(peer, sizes);
      samples.get(peer)!.push(figures);
      console.log(`${scenario} ${peer} (${Date.now() - started} ms): ${JSON.stringify(figures)}`);
    }
  }
  // A peer's figures, and the load as its runs started: the medians of its runs.
  results[scenario] = Object.fromEntries(chosen.map((p) => [p, medianFigures(samples.get(p)!)]));
  load[scenario] = Object.fromEntries(chosen.map((p) => [p, median(loads.get(p)!)]));
  if (count > 1)
    console.log(`${scenario}, medians of ${count} runs: ${JSON.stringify(results[scenario])}`);
}

const run: Run = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  results,
  measured,
  load,
};
// Results are written only for a run of every peer: a table mixes no runs.
if (!smoke && !peersArg) {
  await writeFile(join(benchDir, 'results.json'), `${JSON.stringify(run, null, 2)}\n`);
  await writeReport(run);
  console.log(`wrote bench/RESULTS.md, bench/results.json and the charts`);
}

async function writeReport(of: Run): Promise<void> {
  await writeFile(join(benchDir, 'RESULTS.md'), markdown(of));
  for (const [name, svg] of Object.entries(charts(of))) {
    await writeFile(join(benchDir, name), svg);
  }
}
