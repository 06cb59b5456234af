// Video calls on the sample page in Chromium (fake camera): peer to peer, then through
// the server's peer. Each page decodes the other's video (getStats: framesDecoded).
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  BROWSER_TEST_TIMEOUT,
  callView,
  chromiumAvailable,
  framesDecoded,
  launchBrowser,
  openChat,
  pageState,
  PATIENCE,
  recordPeerConnections,
  sampleForAllTests,
  serverCallUsable,
  startSample,
} from '../support/browser.js';
import { withHarness } from '../support/fixtures.js';

describe.runIf(chromiumAvailable())('the sample page: video calls', () => {
  const sample = sampleForAllTests();
  const harness = withHarness();

  it(
    'two pages decode each other in a peer-to-peer call, then through the server',
    async () => {
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
          await expect.poll(() => framesDecoded(page), { timeout: PATIENCE }).toBeGreaterThan(10);
          await page.waitForFunction(
            () => document.querySelectorAll('#videos figure').length === 2,
          );
        }
        await pages[0]!.page.screenshot({ path: join(ARTIFACTS, `call-${mode}.png`) });
        for (const { page } of pages) await page.click('#hangup');
        for (const { page } of pages) {
          await page.waitForFunction(
            () => document.querySelectorAll('#videos figure').length === 0,
          );
        }
      }
      expect(pages.flatMap((chat) => chat.errors)).toEqual([]);
    },
    BROWSER_TEST_TIMEOUT,
  );
});

describe('regressions', () => {
  describe.runIf(chromiumAvailable())('review of the sample page: losing the server', () => {
    let browser: Browser;
    const harness = withHarness();
    beforeAll(async () => {
      browser = await launchBrowser();
    }, BROWSER_TEST_TIMEOUT);
    afterAll(async () => {
      await browser?.close();
    });

    it(
      'a call through the server works again after a restart, or can be started again',
      async () => {
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
          await expect.poll(() => framesDecoded(page), { timeout: PATIENCE }).toBeGreaterThan(10);
        }
        await app.stop('SIGKILL');
        app = await startSample({ GRPC_PORT: String(app.grpcPort) }, app.port);
        for (const { page } of pages) await pageState(page, 'connected');
        // Now: "in a call through the server", Hang up on, both call buttons off, the
        // videos frozen, and every peer connection closed.
        for (const { page } of pages) {
          await expect.poll(() => serverCallUsable(page), { timeout: PATIENCE }).toBe(true);
        }
      },
      BROWSER_TEST_TIMEOUT,
    );

    it(
      'Hang up ends the call at once, even while the connection is down',
      async () => {
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
          await expect.poll(() => framesDecoded(page), { timeout: PATIENCE }).toBeGreaterThan(10);
        }
        await app.stop('SIGKILL');
        const { page } = pages[0]!;
        await pageState(page, 'reconnecting');
        await page.click('#hangup');
        // The bug: still "in a peer-to-peer call", the camera's own video on, Hang up on,
        // until the queued rt:peer-leave got its reply, which a server that is gone never
        // sends (the request gives up after 10 s): the page must not wait for that.
        await expect
          .poll(() => callView(page), { timeout: 9_000 })
          .toEqual({ videos: 0, callState: '', hangupDisabled: true });
      },
      BROWSER_TEST_TIMEOUT,
    );
  });
});
