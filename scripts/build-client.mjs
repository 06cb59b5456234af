// Bundles the client into one small ESM file a page loads without a bundler
// (dist/browser/nest-realtime-client.js), and reports its size.
import { readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { build } from 'rolldown';

const file = 'dist/browser/nest-realtime-client.js';
await build({
  input: 'dist/client/index.js',
  output: { file, format: 'esm', minify: true },
  logLevel: 'warn',
});
const code = await readFile(file);
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`${file}: ${kb(code.length)}, ${kb(gzipSync(code, { level: 9 }).length)} gzipped`);
