// Video calls on the sample page in Chromium (fake camera): peer to peer, then through
// the server's peer. Each page decodes the other's video (getStats: framesDecoded).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  chromiumAvailable,
  openChat,
  sampleForAllTests,
  recordPeerConnections,
  framesDecoded,
} from '../support/browser.js';
import { withHarness } from '../support/fixtures.js';

describe.runIf(chromiumAvailable())('the sample page: video calls', () => {
  const sample = sampleForAllTests();
  const harness = withHarness();

  it('two pages decode each other in a peer-to-peer call, then through the server', async () => {
    const { browser, app } = sample;
    const pages = [];
    for (const name of ['vic', 'wes']) {
      const chat = await openChat(browser, app, name, 'call', recordPeerConnections);
      harness.defer(() => chat.close());
      pages.push(chat);
    }
    for (const mode of ['p2p', 'sfu'] as const) {
      for (const { page } of pages) await page.click(`#${mode}`);
      for (const { page } of pages) {
        await expect.poll(() => framesDecoded(page), { timeout: 15_000 }).toBeGreaterThan(10);
        await page.waitForFunction(() => document.querySelectorAll('#videos figure').length === 2);
      }
      await pages[0]!.page.screenshot({ path: join(ARTIFACTS, `call-${mode}.png`) });
      for (const { page } of pages) await page.click('#hangup');
      for (const { page } of pages) {
        await page.waitForFunction(() => document.querySelectorAll('#videos figure').length === 0);
      }
    }
    expect(pages.flatMap((chat) => chat.errors)).toEqual([]);
  }, 60_000);
});
