// Video calls on the sample page in Chromium (fake camera): peer to peer, then through
// the server's peer. Each page decodes the other's video (getStats: framesDecoded).
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  chromiumAvailable,
  launchBrowser,
  openChat,
  startSample,
  type SampleApp,
} from '../support/browser.js';
import { withHarness } from '../support/fixtures.js';

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

describe.runIf(chromiumAvailable())('the sample page: video calls', () => {
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

  it('two pages decode each other in a peer-to-peer call, then through the server', async () => {
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
