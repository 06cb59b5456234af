// The sample's page in Chromium, used as a person would: two pages chat in a room and
// see each other's status change.
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  chatLines,
  chromiumAvailable,
  launchBrowser,
  openChat,
  startSample,
  type SampleApp,
} from '../support/browser.js';
import { withHarness } from '../support/fixtures.js';

/** The member list's entry of `name`. */
const member = (name: string) => `#members li:text-is("${name}")`;

describe.runIf(chromiumAvailable())('the sample page: chat and presence', () => {
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

  it('two pages chat in a room, and see each other come, and change status', async () => {
    const ann = await openChat(browser, app, 'ann');
    const ben = await openChat(browser, app, 'ben');
    harness.defer(() => ann.close());
    harness.defer(() => ben.close());
    // Each sees both members, online.
    for (const { page } of [ann, ben]) {
      await page.locator(member('ann')).waitFor();
      await page.locator(member('ben')).waitFor();
    }
    await ann.page.fill('#text', 'hello ben');
    await ann.page.click('#send button');
    await ben.page.fill('#text', 'hi ann');
    await ben.page.click('#send button');
    for (const { page } of [ann, ben]) {
      await page.waitForFunction(
        () => document.querySelectorAll('#log li:not(.system)').length === 2,
      );
      expect(await chatLines(page)).toEqual(['ann: hello ben', 'ben: hi ann']);
    }
    // ben goes busy: ann's member list says so.
    await ben.page.selectOption('#status', 'busy');
    await expect
      .poll(() => ann.page.getAttribute(member('ben'), 'data-status'), { timeout: 5_000 })
      .toBe('busy');
    await ann.page.selectOption('#status', 'away');
    await expect
      .poll(() => ben.page.getAttribute(member('ann'), 'data-status'), { timeout: 5_000 })
      .toBe('away');
    await ann.page.screenshot({ path: join(ARTIFACTS, 'chat.png') });
    expect([...ann.errors, ...ben.errors]).toEqual([]);
  });
});
