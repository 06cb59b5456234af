// Bundles the client into one small ESM file a page loads without a bundler
// (dist/browser/nest-realtime-client.js), gives it its types (a .d.ts beside it that
// re-exports the client entry's, for `nest-realtime/client/browser`), and reports
// its size.
import { readFile, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { build } from 'rolldown';

const file = 'dist/browser/nest-realtime-client.js';
await build({
  input: 'dist/client/index.js',
  output: { file, format: 'esm', minify: true },
  logLevel: 'warn',
});
await writeFile(
  file.replace(/\.js$/, '.d.ts'),
  "// The bundle is dist/client/index.js and what it imports, in one file.\nexport * from '../client/index.js';\n",
);
const code = await readFile(file);
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`${file}: ${kb(code.length)}, ${kb(gzipSync(code, { level: 9 }).length)} gzipped`);
