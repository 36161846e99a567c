/**
 * PEFT Studio end to end, in real VS Code (code-server) driven by Playwright in Chromium:
 * install the .vsix → "PEFT: New Run" through its quick picks (method BitFit) → the dashboard fills with loss
 * points and a bias-change heatmap, both in view without scrolling for a 12-layer model → pause / resume from the dashboard → the run finishes and shows in the
 * Runs tree (the status bar keeps its last step) → reload the window → the dashboard comes back from the run folder → a second New Run with LoRA
 * (its own questions) → its dashboard shows LoRA's what-moved grid, and a selected cell its singular values
 * and unit lists; the Runs tree names both methods. Then the host-side suite runs inside
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
/** As deep as BERT-Base: the dashboard must show all of its heatmap beside the loss chart. */
const LAYERS = 12;
const KINDS = 8;

type Hooks = {
  pointCount(runId: string): number;
  heatmapNonZeroCells(runId: string): number;
  heatmapLayout(runId: string): { measure: string; kinds: string[] } | undefined;
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
  const { tmp, workspace } = makeTrainingWorkspace('peft-e2e-', 160, undefined, LAYERS);
  const vsix = packageRepoVsix(tmp);
  t.diagnostic(`.vsix: ${(fs.statSync(vsix).size / 2 ** 20).toFixed(2)} MiB`);

  await withWorkbench(t, { tmp, extensionVsix: vsix, workspace, settings: { 'peftStudio.backend': 'wasm' } }, async ({ server, browser, page }) => {
    try {
      await runCommand(page, 'PEFT: New Run');
      await answer(page, 'BitFit'); // 1 method
      await answer(page, 'tiny-bert'); // 2 model folder (found in the workspace)
      await answer(page, 'reviews.tsv'); // 3 training data
      await answer(page); // 4 hold out 10%
      await answer(page); // 5 BitFit's bias_terms: 'all' by default
      await answer(page, '0.002'); // 6 learning rate
      await answer(page, '12'); // epochs: long enough to pause mid-run
      await answer(page, '8'); // batch size
      await answer(page, '32'); // max length

      const dash = webviewFrame(page, EXT_ID);
      const runId = (await until('the run to be focused', () => dashboard(dash, (h) => h.state().focused), (v) => typeof v === 'string'))!;
      await until('loss points', () => dashboard(dash, (h) => h.pointCount(h.state().focused!)), (n) => n >= 5);
      // In an editor column of the default window, the loss chart and every heatmap row (embeddings … 12
      // layers … classifier) are in view without scrolling.
      const viewport = page.viewportSize()!;
      const inView = async (what: string, box: { x: number; y: number; width: number; height: number } | null) => {
        assert.ok(box, `${what} is laid out`);
        assert.ok(box.y >= 0 && box.y + box.height <= viewport.height && box.x + box.width <= viewport.width, `${what} is in view: ${JSON.stringify(box)} in ${JSON.stringify(viewport)}`);
      };
      await inView('the loss chart', await dash.locator('[data-testid="loss-chart"]').boundingBox());
      const rows = dash.locator('[data-testid="heatmap"] tbody tr');
      assert.equal(await rows.count(), LAYERS + 3, 'embeddings, the layers, pooler, classifier');
      await inView('the heatmap\'s first row', await rows.first().boundingBox());
      await inView('the heatmap\'s last row', await rows.last().boundingBox());
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
      const row = page.locator('.monaco-list-row:has-text("reviews · BitFit all · lr 0.002")').first();
      await row.waitFor({ timeout: 20_000 });
      assert.match((await row.textContent()) ?? '', /BitFit all · step 216\/216/);
      // The status bar ends on the run's last step too.
      await until('the status bar on the last step', () => page.locator('.part.statusbar').textContent(), (s) => /PEFT BitFit[^/]* 216\/216/.test(s ?? ''), 10_000);
      // Runs are grouped by base model: the tiny-bert node counts its runs by status.
      assert.match((await page.locator('.monaco-list-row:has-text("tiny-bert")').first().textContent()) ?? '', /1 task · 1 finished/);
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

      // A LoRA run through New Run: the method first, then only LoRA's asked settings.
      await runCommand(page, 'PEFT: New Run');
      await answer(page, 'LoRA'); // 1 method
      await answer(page, 'tiny-bert'); // 2 model folder (the last one)
      await answer(page, 'reviews.tsv'); // 3 training data
      await answer(page); // 4 hold out 10%
      await answer(page, '4'); // 5 r
      await answer(page); // 5 lora_alpha: 8
      await answer(page); // 5 target_modules: query, value
      await answer(page, '0.01'); // 6 learning rate (offered: LoRA's 5e-4)
      await answer(page, '5'); // epochs
      await answer(page, '8'); // batch size
      await answer(page, '32'); // max length
      const dash2 = webviewFrame(page, EXT_ID);
      const loraId = (await until('the LoRA run to be focused', () => dashboard(dash2, (h) => h.state().focused), (v) => typeof v === 'string' && v !== runId))!;
      await until('the LoRA run to finish', () => dash2.locator('[data-testid="status-badge"]').textContent(), (s) => /finished/i.test(s ?? ''), 180_000);
      const layout = await dashboard(dash2, (h) => h.heatmapLayout(h.state().focused!));
      assert.deepEqual(layout, { measure: '‖ΔW‖F / ‖W‖F', kinds: ['query', 'value'] }, 'LoRA columns are its targets, in its measure');
      const loraCells = await dashboard(dash2, (h) => h.heatmapNonZeroCells(h.state().focused!));
      assert.equal(loraCells, LAYERS * 2, `LoRA heatmap has ${loraCells} non-zero cells (query and value of ${LAYERS} layers)`);
      assert.match((await dash2.locator('#heatmap-title').textContent()) ?? '', /What moved/);
      assert.match((await dash2.locator('[data-testid="card-method"]').textContent()) ?? '', /LoRA r=4/);
      await dash2.locator(`[data-testid="heatmap"] td[data-row="layer.${LAYERS - 1}"][data-kind="value"]`).click();
      const titles = await until('the selected cell\'s detail lists', () => dash2.locator('[data-testid="heatmap-detail"] h4').allTextContents(), (ts) => ts.length >= 3);
      assert.ok(titles.some((x) => /singular values of ΔW/.test(x)) && titles.some((x) => /output units/.test(x)) && titles.some((x) => /input units/.test(x)), titles.join(' | '));
      const sigmas = await dash2.locator('[data-testid="heatmap-detail"]').first().locator('li').count();
      assert.equal(sigmas, 4, 'r = 4 singular values');
      t.diagnostic(`LoRA run ${loraId}: ${loraCells} non-zero cells; details ${titles.join(' | ')}`);
      await dash2.locator('[data-testid="heatmap-detail"]').first().scrollIntoViewIfNeeded().catch(() => undefined);
      await screenshot(page, 'dashboard-lora');
      // The PEFT Studio view is still open from before the reload (clicking its icon again would close it).
      if (!(await page.locator('.monaco-list-row:has-text("tiny-bert")').first().isVisible())) await page.locator('.part.activitybar .action-item a[aria-label^="PEFT Studio"]').click();
      const loraRow = page.locator('.monaco-list-row:has-text("LoRA r=4 lora_alpha=8 query+value")').first();
      await loraRow.waitFor({ timeout: 20_000 });
      // The run may still be on its last steps here; its row must reach the final step once it ends.
      await until('the LoRA row at its last step', async () => (await loraRow.textContent()) ?? '', (t) => /LoRA r=4 · step 90\/90/.test(t), 60_000);
      await screenshot(page, 'runs-tree-methods');
      await page.close();

      // Host-side checks inside the real extension host.
      const code = await runExtensionTests(await browser.newPage(), server.url, path.join(__dirname, 'suite', 'host.suite.js'), { folder: workspace });
      assert.equal(code, 0, 'extension host suite failed');
      t.diagnostic(`activate(): ${fs.readFileSync(path.join(workspace, '.peft-studio', 'activation-ms.txt'), 'utf8').trim()} ms (measured inside the extension)`);
    } catch (e) {
      t.diagnostic(`failure screenshot: ${await screenshot(page, 'peft-studio-failure').catch(() => 'none')}`);
      throw e;
    }
  });
});
