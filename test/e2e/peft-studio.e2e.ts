/**
 * PEFT Studio end to end, in real VS Code (code-server) driven by Playwright in Chromium:
 * install the .vsix → "PEFT: New Run" through its quick picks → the dashboard fills with loss points and a
 * bias-change heatmap → pause / resume from the dashboard → the run finishes and shows in the Runs tree →
 * reload the window → the dashboard comes back from the run folder. Then the host-side suite runs inside
 * the real extension host (extensionTestsPath). Screenshots go to test-output/e2e/.
 * Needs scripts/e2e/setup.sh (npm run test:e2e does both).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import { makeTrainingWorkspace, packageRepoVsix, runCommand, runExtensionTests, screenshot, until, webviewFrame, withWorkbench } from './harness';

const EXT_ID = 'peft-studio.peft-studio';
const LAYERS = 2; // makeTrainingWorkspace's tiny-bert
const KINDS = 8;

type Hooks = {
  pointCount(runId: string): number;
  heatmapNonZeroCells(runId: string): number;
  state(): { focused?: string; snapshot: { runs: Array<{ runId: string; status: string }> } };
  renderStats(): { latencySamples: number; latencySumMs: number; latencyMaxMs: number };
};

async function dashboard<T>(frame: FrameLocator, fn: (h: Hooks) => T): Promise<T> {
  return frame.locator('body').evaluate((_b, src) => {
    const h = (globalThis as unknown as { __peftDashboard?: Hooks }).__peftDashboard;
    if (!h) return undefined as T;
    return new Function('h', `return (${src})(h)`)(h) as T;
  }, fn.toString());
}

/** Answers the next quick pick / input box: optionally filter or replace the value, then Enter. */
async function answer(page: Page, text?: string): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.waitFor({ state: 'visible', timeout: 20_000 });
  if (text !== undefined) await input.fill(text);
  await page.waitForTimeout(300); // the list filters asynchronously
  await page.keyboard.press('Enter');
  await page.waitForTimeout(400);
}

test('PEFT Studio: new run → live dashboard → pause/resume → Runs tree → reload restores', { timeout: 420_000 }, async (t) => {
  const { tmp, workspace } = makeTrainingWorkspace('peft-e2e-', 160);
  const vsix = packageRepoVsix(tmp);
  t.diagnostic(`.vsix: ${(fs.statSync(vsix).size / 2 ** 20).toFixed(2)} MiB`);

  await withWorkbench(t, { tmp, extensionVsix: vsix, workspace, settings: { 'peftStudio.backend': 'wasm' } }, async ({ server, browser, page }) => {
    await runCommand(page, 'PEFT: New Run');
    await answer(page, 'tiny-bert'); // 1 model folder (found in the workspace)
    await answer(page, 'reviews.tsv'); // 2 training data
    await answer(page); // 3 hold out 10%
    await answer(page); // 4 bias terms: 'all' preselected
    await answer(page); // 4 train the head too
    await answer(page, '0.002'); // 5 learning rate
    await answer(page, '30'); // epochs: long enough to pause mid-run
    await answer(page, '8'); // batch size
    await answer(page, '32'); // max length

    const dash = webviewFrame(page, EXT_ID);
    const runId = (await until('the run to be focused', () => dashboard(dash, (h) => h.state().focused), (v) => typeof v === 'string'))!;
    await until('loss points', () => dashboard(dash, (h) => h.pointCount(h.state().focused!)), (n) => n >= 5);
    await screenshot(page, 'dashboard-live');

    await dash.locator('[data-testid="pause-button"]').click();
    await until('paused badge', () => dash.locator('[data-testid="status-badge"]').textContent(), (s) => /paused/i.test(s ?? ''));
    const atPause = await dashboard(dash, (h) => h.pointCount(h.state().focused!));
    await page.waitForTimeout(1500);
    assert.ok((await dashboard(dash, (h) => h.pointCount(h.state().focused!))) <= atPause + 1, 'no progress while paused');
    await dash.locator('[data-testid="resume-button"]').click();
    await until('running again', () => dash.locator('[data-testid="status-badge"]').textContent(), (s) => /running/i.test(s ?? ''));

    await until('the run to finish', () => dash.locator('[data-testid="status-badge"]').textContent(), (s) => /finished/i.test(s ?? ''), 240_000);
    const points = await dashboard(dash, (h) => h.pointCount(h.state().focused!));
    const cells = await dashboard(dash, (h) => h.heatmapNonZeroCells(h.state().focused!));
    assert.ok(cells >= LAYERS * KINDS, `heatmap has ${cells} non-zero cells, want ≥ ${LAYERS * KINDS}`);
    const lat = await dashboard(dash, (h) => h.renderStats());
    t.diagnostic(`run ${runId}: ${points} points, ${cells} non-zero heatmap cells; event→chart latency mean ${(lat.latencySumMs / Math.max(1, lat.latencySamples)).toFixed(0)} ms, max ${lat.latencyMaxMs} ms over ${lat.latencySamples} steps`);
    await screenshot(page, 'dashboard-finished');

    // The Runs tree lists it as finished.
    await page.locator('.part.activitybar .action-item a[aria-label^="PEFT Studio"]').click();
    const row = page.locator('.monaco-list-row:has-text("reviews · all · lr 0.002")').first();
    await row.waitFor({ timeout: 20_000 });
    assert.match((await row.textContent()) ?? '', /step 540\/540/);
    assert.match((await page.locator('.monaco-list-row:has-text("Finished")').first().textContent()) ?? '', /Finished/);
    // The sidebar's live-loss view shows the run too.
    const sidebar = webviewFrame(page, EXT_ID, { view: true });
    await until('the sidebar loss view', () => sidebar.locator('[data-testid="sidebar-run"]').textContent(), (s) => /reviews/.test(s ?? ''), 30_000);
    await screenshot(page, 'runs-tree');

    // Reload the window: the runs list and the dashboard come back from events.jsonl.
    await page.reload();
    await page.locator('.monaco-workbench .part.statusbar').waitFor({ timeout: 60_000 });
    const restored = webviewFrame(page, EXT_ID);
    const after = await until('the restored dashboard', () => dashboard(restored, (h) => h.pointCount(h.state().focused ?? '')), (n) => n === points);
    assert.equal(after, points);
    await screenshot(page, 'dashboard-restored');
    await page.close();

    // Host-side checks inside the real extension host.
    const code = await runExtensionTests(await browser.newPage(), server.url, path.join(__dirname, 'suite', 'host.suite.js'), { folder: workspace });
    assert.equal(code, 0, 'extension host suite failed');
    t.diagnostic(`activate(): ${fs.readFileSync(path.join(workspace, '.peft-studio', 'activation-ms.txt'), 'utf8').trim()} ms (measured inside the extension)`);
  });
});
