// The package as a user gets it: packed with `npm pack` (whose `prepack` builds it),
// unpacked into fresh projects in the temp folder, and compiled there with
// `skipLibCheck: false` against the PUBLISHED declarations. test/package/README.md says
// what each case checks and how to run it alone.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  brokenLinks,
  makeConsumer,
  packAll,
  repo,
  repoModules,
  run,
  runNpm,
  shippedSnippets,
  tarballFiles,
  tsc,
  assertCompiled,
  writeSnippets,
  writeTsconfig,
} from './consumer.js';

interface Manifest {
  version: string;
  exports: Record<string, unknown>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
}
const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as Manifest;
const peers = Object.keys(manifest.peerDependencies);
/** The peers that are optional: an app without them must still type-check. */
const OPTIONAL_PEERS = peers.filter((name) => manifest.peerDependenciesMeta[name]?.optional);
/** What the package needs in any app: its required peers, its dependencies, Node's types. */
const REQUIRED = [
  ...peers.filter((name) => !OPTIONAL_PEERS.includes(name)),
  ...Object.keys(manifest.dependencies),
  '@types/node',
];
/**
 * A Nest app on Express and Fastify that uses every transport (and vitest, for the
 * engine suite and docs/testing.md).
 */
const FULL_APP = [...new Set([...REQUIRED, ...peers])].concat(
  '@nestjs/platform-express',
  '@types/express',
  '@nestjs/platform-fastify',
  'fastify',
  'vitest',
);
/**
 * The entries that need optional peers of their own (gRPC's): each is checked with
 * those and without the others. A new entry that needs one is added here.
 */
const ENTRY_PEERS: Record<string, string[]> = {
  'nest-realtime/grpc': ['@grpc/grpc-js', '@grpc/proto-loader', '@nestjs/microservices'],
  'nest-realtime/health': ['@nestjs/terminus'],
  'nest-realtime/testing': ['@nestjs/testing'],
};
const fixtures = join(repo, 'test/package/fixtures');
const fixture = (name: string): string => readFileSync(join(fixtures, name), 'utf8');

/** The entries of package.json's `exports` that are code (not ./package.json). */
function codeEntries(): string[] {
  return Object.keys(manifest.exports)
    .filter((entry) => entry !== './package.json')
    .map((entry) => entry.replace(/^\./, 'nest-realtime'));
}

/** A module that imports every export of each entry, so tsc checks their declarations. */
function importsOf(entries: readonly string[]): string {
  const names = entries.map((_, index) => `entry${index}`);
  return `${entries.map((entry, index) => `import * as ${names[index]} from '${entry}';`).join('\n')}
export const entries = [${names.join(', ')}];\n`;
}

/** tsc on a whole app takes its time on a busy machine: a bound, not a budget. */
const TSC_TIMEOUT = 180_000;

let temp: string;
let tarballs: { library: string; client: string };

beforeAll(() => {
  temp = mkdtempSync(join(tmpdir(), 'nest-realtime-package-'));
  tarballs = packAll(temp);
}, TSC_TIMEOUT);

afterAll(() => {
  // RT_PACKAGE_KEEP=1 keeps the consumers to look into (tsc -p <folder>/app).
  if (process.env.RT_PACKAGE_KEEP) console.info(`kept ${temp}`);
  else if (temp) rmSync(temp, { recursive: true, force: true });
});

describe('the packed library', { timeout: TSC_TIMEOUT }, () => {
  it('holds the build, the docs and the LICENSE, and no sources or tests', () => {
    const files = tarballFiles(tarballs.library);
    const expected = [
      'package.json',
      'README.md',
      'LICENSE',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/client/index.d.ts',
      'dist/browser/nest-realtime-client.js',
      'dist/browser/nest-realtime-client.d.ts',
      'protos/realtime/v1/realtime.proto',
      'docs/protocol.md',
    ];
    expect(expected.filter((file) => !files.includes(file))).toEqual([]);
    expect(files.filter((file) => /^(lib|test|sample|bench|packages)\//.test(file))).toEqual([]);
    expect(files.filter((file) => /\.spec\.(js|d\.ts)$/.test(file))).toEqual([]);
  });

  it('has links in its README and docs that resolve inside the tarball or are absolute', () => {
    expect(brokenLinks(join(temp, 'stage'), tarballFiles(tarballs.library))).toEqual([]);
  });

  it('states the size of the one-file client as the build has it', () => {
    const stage = join(temp, 'stage');
    const bundle = readFileSync(join(stage, 'dist/browser/nest-realtime-client.js'));
    const kb = gzipSync(bundle, { level: 9 }).length / 1024;
    const stated = ['README.md', 'docs/client.md'].flatMap((doc) =>
      [...readFileSync(join(stage, doc), 'utf8').matchAll(/about ([\d.]+) KB gzipped/g)].map(
        ([, size]) => ({ doc, size: Number(size) }),
      ),
    );
    expect(stated.length).toBeGreaterThan(0);
    const wrong = stated
      .filter(({ size }) => Math.abs(size - kb) > 0.5)
      .map(({ doc, size }) => `${doc} says about ${size} KB, the build has ${kb.toFixed(1)} KB`);
    expect(wrong).toEqual([]);
  });
});

describe(
  'a fresh Nest app with the tarball installed (skipLibCheck: false)',
  { timeout: TSC_TIMEOUT },
  () => {
    it('compiles the README and docs snippets, and the typed client rejects wrong calls', () => {
      const app = makeConsumer(join(temp, 'app'), tarballs.library, FULL_APP);
      const snippets = shippedSnippets();
      expect(snippets.length).toBeGreaterThan(10);
      writeSnippets(app, snippets, {
        prelude: fixture('snippet-prelude.ts'),
        globals: fixture('snippet-globals.d.ts'),
      });
      app.write('typed-client.ts', fixture('typed-client.ts'));
      app.write('typed-client-errors.ts', fixture('typed-client-errors.ts'));
      const result = tsc(app.dir);
      assertCompiled(result, 'the snippets and typed-client fixtures');
    });

    it('type-checks every entry without the optional peers, and the client without the DOM lib', () => {
      const bare = makeConsumer(join(temp, 'bare'), tarballs.library, REQUIRED, {
        lib: ['ES2022'],
      });
      expect(OPTIONAL_PEERS).toContain('werift');
      expect(
        OPTIONAL_PEERS.filter((name) => existsSync(join(bare.dir, 'node_modules', name))),
      ).toEqual([]);
      const entries = codeEntries().filter((entry) => !(entry in ENTRY_PEERS));
      expect(entries).toContain('nest-realtime/client/browser');
      bare.write('entries.ts', importsOf(entries));
      bare.write('typed-client.ts', fixture('typed-client.ts'));
      bare.write('typed-client-errors.ts', fixture('typed-client-errors.ts'));
      bare.write('browser-entry.ts', fixture('browser-entry.ts'));
      const result = tsc(bare.dir);
      assertCompiled(result, `${entries.join(', ')} without optional peers`);
    });

    it.each(Object.entries(ENTRY_PEERS))(
      'type-checks %s with its own peers and no other optional one',
      (entry, own) => {
        expect(codeEntries()).toContain(entry);
        const consumer = makeConsumer(
          join(temp, entry.replace(/\W+/g, '-')),
          tarballs.library,
          [...REQUIRED, ...own],
          { lib: ['ES2022'] },
        );
        consumer.write('entry.ts', importsOf([entry]));
        const result = tsc(consumer.dir);
        assertCompiled(result, `${entry} with ${own.join(', ')}`);
      },
    );

    it('imports every entry in Node without the optional peers', () => {
      const entries = codeEntries().filter((entry) => !(entry in ENTRY_PEERS));
      const script = `for (const entry of ${JSON.stringify(entries)})
        console.log(entry, Object.keys(await import(entry)).length > 0);`;
      const printed = run(process.execPath, ['--input-type=module', '-e', script], {
        cwd: join(temp, 'bare'),
      });
      expect(printed.trim().split('\n')).toEqual(entries.map((entry) => `${entry} true`));
      expect(entries).toContain('nest-realtime/client/browser');
    });
  },
);

describe('a CommonJS Nest app', { timeout: TSC_TIMEOUT }, () => {
  it('compiles with module nodenext and runs, requiring the ES module package', () => {
    const app = makeConsumer(join(temp, 'commonjs'), tarballs.library, [
      ...REQUIRED,
      '@nestjs/platform-express',
    ]);
    // No "type": "module": the app's .js files are CommonJS, as `nest new` makes them.
    const manifestPath = join(app.dir, 'package.json');
    const { type: _type, ...commonjs } = JSON.parse(readFileSync(manifestPath, 'utf8'));
    writeFileSync(manifestPath, `${JSON.stringify(commonjs, null, 2)}\n`);
    writeTsconfig(app.dir, { noEmit: false, rootDir: 'src', outDir: 'dist' });
    app.write('main.ts', fixture('commonjs-app.ts'));
    assertCompiled(tsc(app.dir), 'a CommonJS app');
    expect(readFileSync(join(app.dir, 'dist/main.js'), 'utf8')).toContain(
      'require("nest-realtime")',
    );
    const printed = run(process.execPath, ['dist/main.js'], { cwd: app.dir });
    expect(JSON.parse(printed)).toEqual({ from: 'function' });
  });
});

describe('@nest-realtime/client, installed alone', { timeout: TSC_TIMEOUT }, () => {
  it('installs with no dependencies, type-checks, and runs', () => {
    const front = join(temp, 'front');
    mkdirSync(join(front, 'src'), { recursive: true });
    writeFileSync(
      join(front, 'package.json'),
      `${JSON.stringify({ name: 'front', private: true, type: 'module' })}\n`,
    );
    runNpm(['install', tarballs.client], front);
    const tree = JSON.parse(runNpm(['ls', '--all', '--json'], front)) as {
      dependencies: Record<string, { version: string; dependencies?: object }>;
    };
    expect(Object.keys(tree.dependencies)).toEqual(['@nest-realtime/client']);
    expect(tree.dependencies['@nest-realtime/client']).toMatchObject({ version: manifest.version });
    expect(tree.dependencies['@nest-realtime/client']!.dependencies ?? {}).toEqual({});

    // A frontend's tsconfig: the DOM lib, and no Node types.
    writeTsconfig(front, { lib: ['ES2022', 'DOM'], types: [] });
    for (const name of ['client-package.ts', 'typed-client.ts', 'typed-client-errors.ts'])
      writeFileSync(
        join(front, 'src', name),
        fixture(name).replaceAll("'nest-realtime/client'", "'@nest-realtime/client'"),
      );
    const result = tsc(front);
    assertCompiled(result, '@nest-realtime/client alone');

    // Runs in Node too: a client against a port where nothing listens goes reconnecting.
    const printed = run(
      process.execPath,
      ['--input-type=module', '-e', fixture('client-package-run.mjs')],
      { cwd: front, env: { ...process.env, WS_MODULE: join(repoModules, 'ws/wrapper.mjs') } },
    );
    expect(printed.trim()).toBe('reconnecting disconnected');
  });
});
