// Debian's Chromium driven by playwright-core (never a downloaded browser), and the
// sample app in a process of its own, for the tests in test/browser.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../lib/client/index.js';
import { skipLoudly } from './fixtures.js';
import { recordStderr } from './logger.js';
import { startRedis, type RedisServer } from './redis.js';
import { freePort } from './processes.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) =>
  existsSync(path),
);

/** Where the browser tests leave their screenshots. */
/**
 * How long a browser test waits for what must happen (a page state, decoded frames, a
 * message): long enough for a loaded machine, since a wait is no measure of speed here;
 * the test's own timeout ({@link BROWSER_TEST_TIMEOUT}) is the only other bound.
 */
export const PATIENCE = 120_000;

/** The timeout of a browser test, and of the hooks that start Chromium and the sample. */
export const BROWSER_TEST_TIMEOUT = 300_000;

export const ARTIFACTS = join(root, 'test-results', 'browser');

/**
 * Whether Debian's Chromium is here. Without it the browser tests skip loudly; under
 * CI=true its absence fails them (.ci/run installs it).
 */
export function chromiumAvailable(): boolean {
  if (CHROMIUM) return true;
  return skipLoudly('chromium is not installed: the browser tests are SKIPPED');
}

/** Chromium headless, with fake camera and microphone, loopback allowed for WebRTC. */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM!,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--allow-loopback-in-peer-connection',
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
    ],
  });
}

/** The sample app in a process of its own. */
export interface SampleApp {
  /** `http://localhost:<port>` (getUserMedia needs a secure context: localhost is one). */
  readonly url: string;
  readonly port: number;
  /** Where it serves gRPC. */
  readonly grpcPort: number;
  /** What it printed so far. */
  output(): string;
  readonly child: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the sample (its TypeScript, on the built library) on `port` or a free one. */
export async function startSample(
  env: Record<string, string> = {},
  port?: number,
): Promise<SampleApp> {
  const chosen = port ?? (await freePort());
  const grpcPort = Number(env.GRPC_PORT ?? (await freePort()));
  const child = spawn(
    process.execPath,
    ['--import', './test/support/swc-register.mjs', 'sample/src/main.ts'],
    {
      cwd: root,
      env: { ...process.env, ...env, PORT: String(chosen), GRPC_PORT: String(grpcPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const exited = once(child, 'exit');
  const stderr = recordStderr('sample', child.stderr!);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('nest-realtime sample: open')) resolve();
    });
    child.once('exit', (code) =>
      reject(new Error(`the sample exited (${code}): ${out}${stderr()}`)),
    );
  });
  return {
    url: `http://localhost:${chosen}`,
    port: chosen,
    grpcPort,
    output: () => out,
    child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/**
 * Opens the sample's page as `name` and joins `room`; resolves once it is joined.
 * `before` runs in the page before its own scripts (to observe it).
 */
export async function openChat(
  browser: Browser,
  app: SampleApp,
  name: string,
  room = 'lobby',
  before?: () => void,
) {
  const context = await browser.newContext();
  await context.grantPermissions(['camera', 'microphone'], { origin: app.url });
  const page = await context.newPage();
  page.setDefaultTimeout(PATIENCE);
  if (before) await page.addInitScript(before);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${app.url}/`);
  await page.fill('#name', name);
  await page.fill('#room', room);
  await page.click('#connect button');
  await page.waitForFunction(() => !(document.querySelector('#text') as HTMLInputElement).disabled);
  await page.waitForFunction(() =>
    [...document.querySelectorAll('#log li')].some((li) => li.textContent?.startsWith('joined')),
  );
  return { page, errors, close: () => context.close() };
}

/** The chat lines a page shows (not the system ones). */
export function chatLines(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('#log li:not(.system)')].map((li) => li.textContent ?? ''),
  );
}

/** The browser and the sample that a file's tests share. */
export interface SampleFixture {
  browser: Browser;
  app: SampleApp;
}

/** Launches Chromium and starts the sample (with `env`) before the file's tests, and stops both after. */
export function sampleForAllTests(env: Record<string, string> = {}): SampleFixture {
  const fixture = {} as SampleFixture;
  beforeAll(async () => {
    [fixture.browser, fixture.app] = await Promise.all([launchBrowser(), startSample(env)]);
  }, BROWSER_TEST_TIMEOUT);
  afterAll(async () => {
    await fixture.browser?.close();
    await fixture.app?.stop();
  });
  return fixture;
}

/** A token of the sample's for `name` (what its page fetches). */
export async function sampleToken(app: SampleApp, name: string): Promise<string> {
  const response = await fetch(`${app.url}/token?name=${encodeURIComponent(name)}`);
  return ((await response.json()) as { token: string }).token;
}

/** A Node client of the sample, as `name`, with a fresh token for each attempt. */
export function sampleClient(app: SampleApp, name: string): RealtimeClient {
  return new RealtimeClient(
    async () => `ws://127.0.0.1:${app.port}/ws?token=${await sampleToken(app, name)}`,
    { WebSocket },
  );
}

/** In the page, before its scripts: every RTCPeerConnection it makes goes to `window.peerConnections`. */
export function recordPeerConnections(): void {
  const Native = window.RTCPeerConnection;
  const made: RTCPeerConnection[] = [];
  (window as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections = made;
  window.RTCPeerConnection = class extends Native {
    constructor(config?: RTCConfiguration) {
      super(config);
      made.push(this);
    }
  } as typeof RTCPeerConnection;
}

/** Video frames the page's open peer connections have decoded (getStats), with recordPeerConnections. */
export function framesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const connections = (window as unknown as { peerConnections: RTCPeerConnection[] })
      .peerConnections;
    let frames = 0;
    for (const pc of connections) {
      if (pc.connectionState === 'closed') continue;
      for (const report of (await pc.getStats()).values()) {
        if (report.type === 'inbound-rtp' && report.kind === 'video') {
          frames += report.framesDecoded ?? 0;
        }
      }
    }
    return frames;
  });
}

// -- what a person sees on the page ------------------------------------------------

/** Joins another room with the page's own form, as a person does; resolves once joined. */
export async function joinWithForm(page: Page, room: string): Promise<void> {
  await page.fill('#room', room);
  await page.click('#connect button');
  await page.waitForFunction(
    (name) =>
      [...document.querySelectorAll('#log li')].some((li) =>
        li.textContent?.startsWith(`joined ${name} `),
      ),
    room,
  );
}

/** Resolves once the page's badge says `state`. */
export async function pageState(page: Page, state: string): Promise<void> {
  await page.waitForFunction(
    (wanted) => document.querySelector('#state')?.getAttribute('data-state') === wanted,
    state,
    { timeout: PATIENCE },
  );
}

/** The live panel's entries. */
export function activity(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('#activity li')].map((li) => li.textContent ?? ''),
  );
}

/** Whether the page's call through the server works, or the page lets a new one start. */
export async function serverCallUsable(page: Page): Promise<boolean> {
  if (await page.isEnabled('#sfu')) return true;
  return (await framesDecoded(page)) > 10;
}

/** What the call section shows. */
export function callView(page: Page) {
  return page.evaluate(() => ({
    videos: document.querySelectorAll('#videos figure').length,
    callState: document.querySelector('#call-state')?.textContent,
    hangupDisabled: (document.querySelector('#hangup') as HTMLButtonElement).disabled,
  }));
}

/**
 * Chromium and a redis-server for the enclosing describe, started together before its
 * tests and stopped after them; the getters return them inside a test or hook.
 */
export function browserAndRedis(): { browser(): Browser; redis(): RedisServer } {
  let browser: Browser | undefined;
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    [browser, redis] = await Promise.all([launchBrowser(), startRedis()]);
  }, BROWSER_TEST_TIMEOUT);
  afterAll(async () => {
    await browser?.close();
    await redis?.stop();
  });
  return { browser: () => started(browser), redis: () => started(redis) };
}

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('the suite’s browser and Redis are not started');
  return value;
}
