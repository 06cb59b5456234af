import { readFile, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chart, markdown, type Results, type Run } from './report.js';
import { FULL, SCENARIOS, SMOKE, type ScenarioName } from './scenarios.js';

// npm run bench [-- <scenario>...] [--smoke] [--peers=ws,socketio,nest-realtime] [--report]
//
// Every scenario runs every peer, one after the other, in this one run, so that the
// ratios compare figures taken on the same machine at the same time. Results go to
// bench/RESULTS.md, bench/results.json and bench/chart.svg (not for --smoke).

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, '..');
const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const peersArg = args.find((a) => a.startsWith('--peers='));
const peers = peersArg
  ? peersArg.slice('--peers='.length).split(',')
  : ['nest-realtime', 'ws', 'socketio'];
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
  await writeFile(join(benchDir, 'RESULTS.md'), markdown(previousRun));
  await writeFile(join(benchDir, 'chart.svg'), chart(previousRun));
  process.exit(0);
}
const results: Results = smoke ? {} : { ...previousRun?.results };
const machine = `on ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`;
// Scenarios not run now keep the date of the run that measured them.
const measured: Partial<Record<ScenarioName, string>> = {};
for (const name of Object.keys(results) as ScenarioName[]) {
  measured[name] =
    previousRun?.measured?.[name] ??
    `${previousRun?.date} on ${previousRun?.cores} cores (${previousRun?.cpus}), Node ${previousRun?.node}`;
}
for (const scenario of scenarios) {
  const byPeer: Record<string, Record<string, number>> = {};
  results[scenario] = byPeer;
  measured[scenario] = `${new Date().toISOString()} ${machine}`;
  for (const peer of peers) {
    const started = Date.now();
    byPeer[peer] = await SCENARIOS[scenario](peer, sizes);
    console.log(
      `${scenario} ${peer} (${Date.now() - started} ms): ${JSON.stringify(byPeer[peer])}`,
    );
  }
}

const run: Run = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  results,
  measured,
};
// Results are written only for a run of every peer: a table mixes no runs.
if (!smoke && !peersArg) {
  await writeFile(join(benchDir, 'results.json'), `${JSON.stringify(run, null, 2)}\n`);
  await writeFile(join(benchDir, 'RESULTS.md'), markdown(run));
  await writeFile(join(benchDir, 'chart.svg'), chart(run));
  console.log(`wrote bench/RESULTS.md, bench/results.json, bench/chart.svg`);
}
