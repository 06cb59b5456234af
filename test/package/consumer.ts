// What test/package/install.spec.ts works with: the packed tarballs, consumer projects
// in the machine's temp folder (outside the repo, so nothing resolves through it), the
// snippets of the shipped docs, and tsc run on a consumer with its output kept.
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repo's root folder. */
export const repo = fileURLToPath(new URL('../../', import.meta.url));
/** The repo's installed packages, which the consumers link to instead of installing. */
export const repoModules = realpathSync(join(repo, 'node_modules'));

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Runs a command, failing with what it printed. */
export function run(
  command: string,
  args: readonly string[],
  options: ExecFileSyncOptions & { cwd: string },
): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false' },
      ...options,
    }) as string;
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${command} ${args.join(' ')} (in ${options.cwd}) failed:\n${failed.stdout ?? ''}${failed.stderr ?? failed.message}`,
      { cause: error },
    );
  }
}

/** Runs npm with what keeps it quiet and off the network. */
export function runNpm(args: readonly string[], cwd: string): string {
  return run(npm, [...args, '--no-audit', '--no-fund', '--offline'], { cwd });
}

/**
 * Copies what a pack needs (the repo less its installed packages, builds and tests)
 * into `into`, links node_modules to the repo's, and runs `npm pack` there, so that
 * `prepack` builds a dist of its own and the repo's dist (which other tests run) is
 * left alone. Returns the tarballs' paths: the library's and the client package's.
 */
export function packAll(into: string): { library: string; client: string } {
  const stage = join(into, 'stage');
  const skipped = new Set(['node_modules', 'dist', '.git', 'test', 'sample', 'bench', 'coverage']);
  cpSync(repo, stage, {
    recursive: true,
    filter: (source) => {
      const path = relative(repo, source);
      return !path.split(/[\\/]/).some((part) => skipped.has(part));
    },
  });
  symlinkSync(repoModules, join(stage, 'node_modules'), 'dir');
  const tarballs = join(into, 'tarballs');
  mkdirSync(tarballs);
  const library = packedFile(runNpm(['pack', '--json', '--pack-destination', tarballs], stage));
  const client = packedFile(
    runNpm(['pack', '--json', '--pack-destination', tarballs], join(stage, 'packages/client')),
  );
  return { library: join(tarballs, library), client: join(tarballs, client) };
}

function packedFile(printed: string): string {
  // npm prints what the scripts print before the JSON, which starts a line with `[`.
  const start = /^\[\s*\{/m.exec(printed)?.index;
  if (start === undefined) throw new Error(`npm pack printed no JSON:\n${printed}`);
  const [packed] = JSON.parse(printed.slice(start)) as { filename: string }[];
  return packed!.filename;
}

/** The files a tarball holds, as paths inside the package. */
export function tarballFiles(tarball: string): string[] {
  return run('tar', ['-tzf', tarball], { cwd: dirname(tarball) })
    .split('\n')
    .filter(Boolean)
    .map((entry) => entry.replace(/^package\//, ''));
}

/**
 * The links of the tarball's Markdown files that lead nowhere inside it: a relative
 * link to a file it does not hold (sample/, test/: those must be absolute URLs), or to
 * a heading its target does not have. `root` is the packed folder, `files` the
 * tarball's.
 */
export function brokenLinks(root: string, files: readonly string[]): string[] {
  const held = new Set(files);
  const docs = files.filter((file) => file.endsWith('.md'));
  const anchors = new Map(
    docs.map((doc) => [doc, headingAnchors(readFileSync(join(root, doc), 'utf8'))]),
  );
  const broken: string[] = [];
  for (const doc of docs) {
    const base = doc.includes('/') ? doc.slice(0, doc.lastIndexOf('/') + 1) : '';
    for (const [, target] of readFileSync(join(root, doc), 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?|mailto):/.test(target!)) continue;
      const [path, anchor] = target!.split('#');
      const file = path ? new URL(path, `file:///${base}`).pathname.slice(1) : doc;
      const found = held.has(file) || files.some((other) => other.startsWith(`${file}/`));
      if (!found || (anchor && anchors.has(file) && !anchors.get(file)!.has(anchor)))
        broken.push(`${doc}: ${target}`);
    }
  }
  return broken;
}

/** The anchors of a Markdown file's headings, as GitHub makes them. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const [, heading] of markdown
    .replace(/^```[\s\S]*?^```/gm, '')
    .matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const times = seen.get(slug) ?? 0;
    seen.set(slug, times + 1);
    anchors.add(times === 0 ? slug : `${slug}-${times}`);
  }
  return anchors;
}

/** A consumer project: a folder with its package.json, tsconfig and node_modules. */
export interface Consumer {
  readonly dir: string;
  /** Writes a source file of the consumer (under src/). */
  write(path: string, text: string): void;
}

/**
 * A fresh consumer of the library: `packages` are linked from the repo's node_modules
 * (what `npm install` would have put there), the tarball is unpacked into
 * node_modules/nest-realtime as npm installs it. Nothing else is there, so a package
 * left out (an optional peer) is really absent.
 */
export function makeConsumer(
  dir: string,
  tarball: string,
  packages: readonly string[],
  compilerOptions: Record<string, unknown> = {},
): Consumer {
  mkdirSync(join(dir, 'node_modules/nest-realtime'), { recursive: true });
  mkdirSync(join(dir, 'src'));
  for (const name of packages) {
    const from = join(repoModules, name);
    if (!existsSync(from)) throw new Error(`${name} is not installed in the repo (${from})`);
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true });
    symlinkSync(from, join(dir, 'node_modules', name), 'dir');
  }
  run('tar', ['-xzf', tarball, '-C', 'node_modules/nest-realtime', '--strip-components=1'], {
    cwd: dir,
  });
  writeJson(join(dir, 'package.json'), {
    name: 'consumer',
    private: true,
    type: 'module',
    dependencies: Object.fromEntries(
      ['nest-realtime', ...packages].map((name) => [name, '*'] as const),
    ),
  });
  writeTsconfig(dir, compilerOptions);
  return {
    dir,
    write: (path, text) => {
      mkdirSync(dirname(join(dir, 'src', path)), { recursive: true });
      writeFileSync(join(dir, 'src', path), text);
    },
  };
}

/** The tsconfig of a fresh Nest app, strict, with the library's declarations checked. */
export function writeTsconfig(dir: string, compilerOptions: Record<string, unknown>): void {
  writeJson(join(dir, 'tsconfig.json'), {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      skipLibCheck: false,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      noEmit: true,
      types: ['node'],
      ...compilerOptions,
    },
    include: ['src'],
  });
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** The outcome of tsc on a consumer: its exit status and everything it printed. */
export interface TscResult {
  readonly ok: boolean;
  readonly output: string;
}

/** Runs the repo's tsc on a consumer's tsconfig. */
export function tsc(dir: string): TscResult {
  const bin = join(repoModules, 'typescript/bin/tsc');
  try {
    const output = execFileSync(process.execPath, [bin, '-p', dir, '--pretty', 'false'], {
      cwd: dir,
      encoding: 'utf8',
    });
    return { ok: true, output };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    return { ok: false, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** Fails, with everything tsc printed, unless the run compiled. */
export function assertCompiled(result: TscResult, what: string): void {
  if (!result.ok) throw new Error(`tsc failed on ${what}:\n${result.output}`);
}

/** One ```ts block of a shipped Markdown file. */
export interface Snippet {
  /** The Markdown file, relative to the repo (README.md, docs/grpc.md). */
  readonly doc: string;
  /** The block's first line in that file. */
  readonly line: number;
  /** The file name its first line names (`// app.module.ts`), if it names one. */
  readonly file: string | undefined;
  readonly code: string;
}

/** The marker that, on the line before a ```ts block, says the block is a fragment. */
export const FRAGMENT_MARKER = '<!-- snippet: fragment -->';

/**
 * Every ```ts block of README.md and docs/*.md that is not marked as a fragment: what a
 * reader pastes. A new doc or block is picked up as it is.
 */
export function shippedSnippets(): Snippet[] {
  const docs = [
    'README.md',
    ...readdirSync(join(repo, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .toSorted()
      .map((name) => `docs/${name}`),
  ];
  return docs.flatMap((doc) => snippetsOf(doc, readFileSync(join(repo, doc), 'utf8')));
}

function snippetsOf(doc: string, markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  for (let index = 0; index < lines.length; index++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[index]!)) continue;
    const end = lines.findIndex((line, at) => at > index && /^```\s*$/.test(line));
    const code = lines.slice(index + 1, end).join('\n');
    const before = lines.slice(0, index).findLast((line) => line.trim() !== '');
    if (before?.trim() !== FRAGMENT_MARKER) {
      const file = /^\/\/ ([\w.-]+\.ts)\s*$/.exec(lines[index + 1] ?? '')?.[1];
      snippets.push({ doc, line: index + 2, file, code });
    }
    index = end;
  }
  return snippets;
}

/** What `client` is in a fragment: the browser's client, or a server's connection. */
function clientOf(snippet: Snippet): string {
  return /^\/\/ (client|in the browser)\b/.test(snippet.code)
    ? 'declare const client: RealtimeClient;'
    : 'declare const client: WsConnection;';
}

/**
 * Writes snippets into a consumer, one folder per doc so that the files of one doc
 * import each other (the quick start's `./chat.gateway.js`). A snippet with imports or
 * exports is a file of its own as it stands; one without is a fragment of a larger
 * file and gets `prelude` (what the text around it has in scope) before it, itself in
 * a block. `globals` declares what belongs to the reader's app (a page's `render`).
 */
export function writeSnippets(
  consumer: Consumer,
  snippets: readonly Snippet[],
  context: { prelude: string; globals: string },
): void {
  consumer.write('snippets/globals.d.ts', context.globals);
  for (const snippet of snippets) {
    const folder = `snippets/${snippet.doc.replace(/\.md$/, '').replace(/[\\/]/g, '-')}`;
    const name = snippet.file ?? `line-${snippet.line}.ts`;
    const whole = /^(import|export)\s/m.test(snippet.code);
    const where = `// ${snippet.doc}:${snippet.line} (${whole ? 'a file' : 'a fragment, in a block'})`;
    consumer.write(
      `${folder}/${name}`,
      whole
        ? `${where}\n${snippet.code}\nexport {};\n`
        : `${where}\n${context.prelude}\n${clientOf(snippet)}\n{\n${snippet.code}\n}\n`,
    );
  }
}
