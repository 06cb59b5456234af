// Review of the sample page: bugs a person using it would hit, each shown in Chromium.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { RealtimeClient } from '../../lib/client/index.js';
import {
  chatLines,
  chromiumAvailable,
  launchBrowser,
  openChat,
  startSample,
  type SampleApp,
} from '../support/browser.js';
import { withHarness } from '../support/fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The member list's entry of `name`. */
const member = (name: string) => `#members li:text-is("${name}")`;

/** A Node client of the sample, as `name`, with a fresh token for each attempt. */
function nodeClient(app: SampleApp, name: string): RealtimeClient {
  return new RealtimeClient(
    async () => {
      const response = await fetch(`${app.url}/token?name=${name}`);
      const { token } = (await response.json()) as { token: string };
      return `ws://127.0.0.1:${app.port}/ws?token=${token}`;
    },
    { WebSocket },
  );
}

/** Joins another room with the page's own form, as a person does; resolves once joined. */
async function joinWithForm(page: Page, room: string): Promise<void> {
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

/** The live panel's entries. */
function activity(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('#activity li')].map((li) => li.textContent ?? ''),
  );
}

/** Every RTCPeerConnection the page makes is kept in `window.peerConnections`. */
function recordPeerConnections(): void {
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

/** Video frames the page's open peer connections have decoded. */
function framesDecoded(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const connections = (window as unknown as { peerConnections: RTCPeerConnection[] })
      .peerConnections;
    let frames = 0;
    for (const pc of connections) {
      if (pc.connectionState === 'closed') continue;
      for (const report of (await pc.getStats()).values()) {
        if (report.type === 'inbound-rtp' && report.kind === 'video')
          frames += report.framesDecoded ?? 0;
      }
    }
    return frames;
  });
}

/** Whether the page's call works, or the page lets a new one start. */
async function callUsable(page: Page): Promise<boolean> {
  if (await page.isEnabled('#sfu')) return true;
  return (await framesDecoded(page)) > 10;
}

describe.runIf(chromiumAvailable())('review of the sample page', () => {
  let browser: Browser;
  let app: SampleApp;
  const harness = withHarness();
  beforeAll(async () => {
    [browser, app] = await Promise.all([launchBrowser(), startSample()]);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it.skip('keeps the status the picker shows after joining again', async () => {
    const ann = await openChat(browser, app, 'sta');
    const ben = await openChat(browser, app, 'stb');
    harness.defer(() => ann.close());
    harness.defer(() => ben.close());
    await ben.page.selectOption('#status', 'busy');
    await expect
      .poll(() => ann.page.getAttribute(member('stb'), 'data-status'), { timeout: 5_000 })
      .toBe('busy');
    await joinWithForm(ben.page, 'lobby');
    await sleep(1_500);
    expect(await ben.page.inputValue('#status')).toBe('busy');
    expect(await ann.page.getAttribute(member('stb'), 'data-status')).toBe('busy');
  });

  it.skip('shows no one typing from the room it left', async () => {
    const ann = await openChat(browser, app, 'tya', 'typing-a');
    const ben = await openChat(browser, app, 'tyb', 'typing-a');
    harness.defer(() => ann.close());
    harness.defer(() => ben.close());
    await ben.page.type('#text', 'hel', { delay: 50 });
    await ann.page.waitForFunction(
      () => document.querySelector('#typing')?.textContent === 'tyb is typing…',
    );
    await joinWithForm(ann.page, 'typing-b');
    expect(await ann.page.textContent('#typing')).toBe('');
  });

  it.skip('shows in the chat only what the chat handler let through', async () => {
    const ann = await openChat(browser, app, 'fra', 'forgery');
    harness.defer(() => ann.close());
    const mal = nodeClient(app, 'frm');
    harness.defer(() => mal.close());
    await mal.subscribe('forgery').ready;
    // Straight to the room with the built-in rt:publish: not through ChatGateway.chat.
    await mal.publish('forgery', 'chat', { from: 'fra', text: 'I quit', at: Date.now() });
    await mal.request('chat', { room: 'forgery', text: 'marker' });
    await ann.page.waitForFunction(() =>
      [...document.querySelectorAll('#log li')].some((li) => li.textContent === 'frm: marker'),
    );
    expect(await chatLines(ann.page)).toEqual(['frm: marker']);
  });
});

describe.runIf(chromiumAvailable())('review of the sample page: reconnects', () => {
  let browser: Browser;
  const harness = withHarness();
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it.skip('a call through the server works again after a restart, or can be started again', async () => {
    let app = await startSample();
    harness.defer(() => app.stop());
    const pages = [];
    for (const name of ['sfa', 'sfb']) {
      const chat = await openChat(browser, app, name, 'call', recordPeerConnections);
      harness.defer(() => chat.close());
      pages.push(chat);
    }
    for (const { page } of pages) await page.click('#sfu');
    for (const { page } of pages) {
      await expect.poll(() => framesDecoded(page), { timeout: 15_000 }).toBeGreaterThan(10);
    }
    await app.stop('SIGKILL');
    app = await startSample({ GRPC_PORT: String(app.grpcPort) }, app.port);
    for (const { page } of pages) {
      await page.waitForFunction(
        () => document.querySelector('#state')?.getAttribute('data-state') === 'connected',
        undefined,
        { timeout: 15_000 },
      );
    }
    for (const { page } of pages) {
      await expect.poll(() => callUsable(page), { timeout: 10_000 }).toBe(true);
    }
  }, 60_000);

  it.skip('the live panel follows the room joined last, even right after its stream renewed', async () => {
    const app = await startSample({ TOKEN_TTL: '3' });
    harness.defer(() => app.stop());
    const chat = await openChat(browser, app, 'rnw', 'renew-a');
    harness.defer(() => chat.close());
    // The stream ends with its token; the browser comes back with it, and gets 401:
    // the page renews it a second later. Meanwhile, the person joins another room.
    await chat.page.waitForResponse(
      (response) => response.url().includes('/realtime/events') && response.status() === 401,
      { timeout: 15_000 },
    );
    await joinWithForm(chat.page, 'renew-b');
    await sleep(1_500);
    const nia = nodeClient(app, 'nia');
    harness.defer(() => nia.close());
    await nia.subscribe('renew-a').ready;
    await nia.subscribe('renew-b').ready;
    await nia.request('chat', { room: 'renew-a', text: 'in a' });
    await nia.request('chat', { room: 'renew-b', text: 'in b' });
    await expect.poll(() => activity(chat.page), { timeout: 5_000 }).toContain('nia: in b');
    expect(await activity(chat.page)).not.toContain('nia: in a');
  }, 40_000);

  it('PROBE status after restart', async () => {
    let app = await startSample();
    harness.defer(() => app.stop());
    const ann = await openChat(browser, app, 'rsa', 'rs');
    const ben = await openChat(browser, app, 'rsb', 'rs');
    harness.defer(() => ann.close());
    harness.defer(() => ben.close());
    await ben.page.selectOption('#status', 'busy');
    await expect
      .poll(() => ann.page.getAttribute(member('rsb'), 'data-status'), { timeout: 5_000 })
      .toBe('busy');
    await app.stop('SIGKILL');
    app = await startSample({ GRPC_PORT: String(app.grpcPort) }, app.port);
    for (const { page } of [ann, ben]) {
      await page.waitForFunction(
        () => document.querySelector('#state')?.getAttribute('data-state') === 'connected',
        undefined,
        { timeout: 15_000 },
      );
    }
    await sleep(2_000);
    expect(await ann.page.getAttribute(member('rsb'), 'data-status')).toBe('busy');
    expect(await ben.page.getAttribute(member('rsb'), 'data-status')).toBe('busy');
  }, 60_000);

  it('PROBE p2p after restart', async () => {
    let app = await startSample();
    harness.defer(() => app.stop());
    const pages = [];
    for (const name of ['ppa', 'ppb']) {
      const chat = await openChat(browser, app, name, 'call', recordPeerConnections);
      harness.defer(() => chat.close());
      pages.push(chat);
    }
    for (const { page } of pages) await page.click('#p2p');
    for (const { page } of pages) {
      await expect.poll(() => framesDecoded(page), { timeout: 15_000 }).toBeGreaterThan(10);
    }
    await app.stop('SIGKILL');
    app = await startSample({ GRPC_PORT: String(app.grpcPort) }, app.port);
    for (const { page } of pages) {
      await page.waitForFunction(
        () => document.querySelector('#state')?.getAttribute('data-state') === 'connected',
        undefined,
        { timeout: 15_000 },
      );
    }
    for (const { page } of pages) {
      await expect.poll(() => framesDecoded(page), { timeout: 15_000 }).toBeGreaterThan(10);
      await page.waitForFunction(() => document.querySelectorAll('#videos figure').length === 2);
    }
  }, 60_000);

  it('PROBE hang up while the server is away', async () => {
    const app = await startSample();
    harness.defer(() => app.stop());
    const pages = [];
    for (const name of ['hua', 'hub']) {
      const chat = await openChat(browser, app, name, 'call', recordPeerConnections);
      harness.defer(() => chat.close());
      pages.push(chat);
    }
    for (const { page } of pages) await page.click('#p2p');
    for (const { page } of pages) {
      await expect.poll(() => framesDecoded(page), { timeout: 15_000 }).toBeGreaterThan(10);
    }
    await app.stop('SIGKILL');
    const { page } = pages[0]!;
    await page.waitForFunction(
      () => document.querySelector('#state')?.getAttribute('data-state') === 'reconnecting',
    );
    await page.click('#hangup');
    await sleep(1_000);
    const after = await page.evaluate(() => ({
      figures: document.querySelectorAll('#videos figure').length,
      callState: document.querySelector('#call-state')?.textContent,
      hangup: (document.querySelector('#hangup') as HTMLButtonElement).disabled,
    }));
    expect(after).toEqual({ figures: 0, callState: '', hangup: true });
  }, 60_000);

  it('PROBE failed join', async () => {
    const app = await startSample();
    harness.defer(() => app.stop());
    const chat = await openChat(browser, app, 'fja', 'stale-a');
    harness.defer(() => chat.close());
    await chat.page.fill('#room', 'rt:nope');
    await chat.page.click('#connect button');
    await chat.page.waitForFunction(() =>
      [...document.querySelectorAll('#log li')].some((li) =>
        li.textContent?.startsWith('could not join'),
      ),
    );
    const nia = nodeClient(app, 'nia');
    harness.defer(() => nia.close());
    await nia.subscribe('stale-a').ready;
    await nia.request('chat', { room: 'stale-a', text: 'still here?' });
    await sleep(1_000);
    expect(await activity(chat.page)).toEqual([]);
  }, 60_000);

  it.skip('the live panel comes back after a graceful restart', async () => {
    let app = await startSample();
    harness.defer(() => app.stop());
    const chat = await openChat(browser, app, 'grc', 'graceful');
    harness.defer(() => chat.close());
    await chat.page.waitForFunction(() =>
      document.querySelector('#stats')?.textContent?.startsWith('node'),
    );
    await app.stop('SIGTERM');
    await sleep(2_000);
    app = await startSample({ GRPC_PORT: String(app.grpcPort) }, app.port);
    await chat.page.waitForFunction(
      () => document.querySelector('#state')?.getAttribute('data-state') === 'connected',
      undefined,
      { timeout: 15_000 },
    );
    const nia = nodeClient(app, 'nia');
    harness.defer(() => nia.close());
    await nia.subscribe('graceful').ready;
    await nia.request('chat', { room: 'graceful', text: 'after the restart' });
    await expect
      .poll(() => activity(chat.page), { timeout: 15_000 })
      .toContain('nia: after the restart');
  }, 60_000);
});
