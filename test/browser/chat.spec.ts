// The sample's page in Chromium, used as a person would: two pages chat in a room and
// see each other's status change.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  ARTIFACTS,
  chatLines,
  chromiumAvailable,
  joinWithForm,
  openChat,
  PATIENCE,
  sampleClient,
  sampleForAllTests,
} from '../support/browser.js';
import { withHarness } from '../support/fixtures.js';

const run = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The member list's entry of `name`. */
const member = (name: string) => `#members li:text-is("${name}")`;

describe.runIf(chromiumAvailable())('the sample page: chat and presence', () => {
  const sample = sampleForAllTests();
  const harness = withHarness();

  it('two pages chat in a room, see each other come, type and change status; the printed gRPC command reaches them', async () => {
    const { browser, app } = sample;
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
      .poll(() => ann.page.getAttribute(member('ben'), 'data-status'), { timeout: PATIENCE })
      .toBe('busy');
    await ann.page.selectOption('#status', 'away');
    await expect
      .poll(() => ben.page.getAttribute(member('ann'), 'data-status'), { timeout: PATIENCE })
      .toBe('away');
    // ann types: ben sees it, until her message comes.
    // (Typed as a person does: the page says so at most once a second.)
    await ann.page.type('#text', 'are you there', { delay: 150 });
    await ben.page.waitForFunction(
      () => document.querySelector('#typing')?.textContent === 'ann is typing…',
    );
    // The gRPC command the sample prints publishes into the room, as it says.
    const command = /node (sample\/grpc-publish\.mjs .+)$/m.exec(app.output())![1]!;
    const args = command.split(' ').slice(1, 4).concat('hello from gRPC');
    const { stdout } = await run(process.execPath, [command.split(' ')[0]!, ...args], {
      cwd: root,
    });
    expect(stdout).toMatch(/published to "lobby" at offset \d+/);
    for (const { page } of [ann, ben]) {
      await page.waitForFunction(() =>
        [...document.querySelectorAll('#log li')].some(
          (li) => li.textContent === 'grpc: hello from gRPC',
        ),
      );
    }
    // ann sends what she typed: ben no longer sees her typing.
    await ann.page.click('#send button');
    await ben.page.waitForFunction(() => document.querySelector('#typing')?.textContent === '');
    await ann.page.screenshot({ path: join(ARTIFACTS, 'chat.png') });
    expect([...ann.errors, ...ben.errors]).toEqual([]);
  });
});

describe('regressions', () => {
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
  });
});
