// Review of the sample page (sample/public/index.html) in Chromium: each test shows a
// bug a person using the page would hit, and fails until it is fixed.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chatLines,
  chromiumAvailable,
  launchBrowser,
  openChat,
  startSample,
  sampleForAllTests,
  sampleClient,
  recordPeerConnections,
  framesDecoded,
} from '../support/browser.js';
import { withHarness } from '../support/fixtures.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

/** Resolves once the page's badge says `state`. */
async function pageState(page: Page, state: string): Promise<void> {
  await page.waitForFunction(
    (wanted) => document.querySelector('#state')?.getAttribute('data-state') === wanted,
    state,
    { timeout: 15_000 },
  );
}

/** The live panel's entries. */
function activity(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('#activity li')].map((li) => li.textContent ?? ''),
  );
}

/** Whether the page's call through the server works, or the page lets a new one start. */
async function serverCallUsable(page: Page): Promise<boolean> {
  if (await page.isEnabled('#sfu')) return true;
  return (await framesDecoded(page)) > 10;
}

/** What the call section shows. */
function callView(page: Page) {
  return page.evaluate(() => ({
    videos: document.querySelectorAll('#videos figure').length,
    callState: document.querySelector('#call-state')?.textContent,
    hangupDisabled: (document.querySelector('#hangup') as HTMLButtonElement).disabled,
  }));
}

describe.runIf(chromiumAvailable())('review of the sample page', () => {
  const sample = sampleForAllTests();
  const harness = withHarness();

  it('shows no one typing from the room it left', async () => {
    const { browser, app } = sample;
    const ann = await openChat(browser, app, 'tya', 'typing-a');
    const ben = await openChat(browser, app, 'tyb', 'typing-a');
    harness.defer(() => ann.close());
    harness.defer(() => ben.close());
    await ben.page.type('#text', 'hel', { delay: 50 });
    await ann.page.waitForFunction(
      () => document.querySelector('#typing')?.textContent === 'tyb is typing…',
    );
    // ann moves to a room ben is not in: his typing is no news there.
    await joinWithForm(ann.page, 'typing-b');
    expect(await ann.page.textContent('#typing')).toBe('');
  });

  it('shows in the chat only what the chat handler let through', async () => {
    const { browser, app } = sample;
    const ann = await openChat(browser, app, 'fra', 'forgery');
    harness.defer(() => ann.close());
    const mal = sampleClient(app, 'frm');
    harness.defer(() => mal.close());
    await mal.subscribe('forgery').ready;
    // Straight to the room with the built-in rt:publish, past ChatGateway.chat: any
    // `from`, any text (none of its checks).
    const forged = await mal
      .publish('forgery', 'chat', { from: 'fra', text: 'I quit', at: Date.now() })
      .catch((error: unknown) => error);
    expect(forged).toMatchObject({ code: 'FORBIDDEN' }); // the sample's canPublish
    await mal.request('chat', { room: 'forgery', text: 'marker' });
    await ann.page.waitForFunction(() =>
      [...document.querySelectorAll('#log li')].some((li) => li.textContent === 'frm: marker'),
    );
    expect(await chatLines(ann.page)).toEqual(['frm: marker']);
  });

  it('a join that fails leaves no live panel of the room it came from', async () => {
    const { browser, app } = sample;
    const chat = await openChat(browser, app, 'fja', 'stale-a');
    harness.defer(() => chat.close());
    // A room the server refuses (reserved prefix): the page says it could not join.
    await chat.page.fill('#room', 'rt:nope');
    await chat.page.click('#connect button');
    await chat.page.waitForFunction(() =>
      [...document.querySelectorAll('#log li')].some((li) =>
        li.textContent?.startsWith('could not join'),
      ),
    );
    const nia = sampleClient(app, 'nia');
    harness.defer(() => nia.close());
    await nia.subscribe('stale-a').ready;
    await nia.request('chat', { room: 'stale-a', text: 'still here?' });
    await sleep(1_000);
    expect(await activity(chat.page)).toEqual([]);
  });
});

describe.runIf(chromiumAvailable())('review of the sample page: losing the server', () => {
  let browser: Browser;
  const harness = withHarness();
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('a call through the server works again after a restart, or can be started again', async () => {
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
    for (const { page } of pages) await pageState(page, 'connected');
    // Now: "in a call through the server", Hang up on, both call buttons off, the
    // videos frozen, and every peer connection closed.
    for (const { page } of pages) {
      await expect.poll(() => serverCallUsable(page), { timeout: 10_000 }).toBe(true);
    }
  }, 60_000);

  it('Hang up ends the call at once, even while the connection is down', async () => {
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
    await pageState(page, 'reconnecting');
    await page.click('#hangup');
    await sleep(1_000);
    // Now: still "in a peer-to-peer call", the camera's own video on, Hang up on (for
    // the 10 s the queued rt:peer-leave waits for its reply).
    expect(await callView(page)).toEqual({ videos: 0, callState: '', hangupDisabled: true });
  }, 60_000);

  it('the live panel follows the room joined last, even right after its stream renewed', async () => {
    const app = await startSample({ TOKEN_TTL: '3' });
    harness.defer(() => app.stop());
    const chat = await openChat(browser, app, 'rnw', 'renew-a');
    harness.defer(() => chat.close());
    // The stream ends with its token; the browser comes back with it and gets 401, and
    // the page renews the stream a second later. Meanwhile, the person joins another room.
    await chat.page.waitForResponse(
      (response) => response.url().includes('/realtime/events') && response.status() === 401,
      { timeout: 15_000 },
    );
    await joinWithForm(chat.page, 'renew-b');
    await sleep(1_500);
    const nia = sampleClient(app, 'nia');
    harness.defer(() => nia.close());
    await nia.subscribe('renew-a').ready;
    await nia.subscribe('renew-b').ready;
    await nia.request('chat', { room: 'renew-a', text: 'in a' });
    await nia.request('chat', { room: 'renew-b', text: 'in b' });
    await expect.poll(() => activity(chat.page), { timeout: 5_000 }).toContain('nia: in b');
    expect(await activity(chat.page)).not.toContain('nia: in a');
  }, 40_000);
});
