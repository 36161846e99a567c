/**
 * PEFT notebooks end to end, in real VS Code (code-server) driven by Playwright in Chromium: open a .peftnb
 * with three run cells (BitFit; then `extends: previous` with `method: lora`; then a long LoRA run) → Run All
 * → the first two train to the end and their outputs show loss points, the method and a what-moved heatmap
 * (BitFit's bias kinds, LoRA's targets), updated live → the third is interrupted and shows as stopped →
 * "PEFT: Compare Cells" adds a comparison naming each run's method (BitFit vs LoRA) and the differing keys →
 * "Re-run with Changes…" appends the first run's config as a cell → save, and the file holds the outputs.
 * A misspelt key in a fourth cell shows as a problem before anything runs. Screenshots go to test-output/e2e/. Needs scripts/e2e/setup.sh.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { makeTrainingWorkspace, packageRepoVsix, runCommand, screenshot, until, withWorkbench, notebookOutputsFrame, runOutputs, type RunOutputState, openNotebookAndRunAll } from './harness';

const LAYERS = 2; // makeTrainingWorkspace's tiny-bert
const KINDS = 8;

const cellA = ['# BitFit: every bias term', 'run_name: all biases', 'model: tiny-bert', 'train_file: data/reviews.tsv', 'bias_terms: [all]', 'learning_rate: 0.002', 'num_train_epochs: 3', 'per_device_train_batch_size: 8', 'max_length: 32', 'bias_change_steps: 5', ''];
const cellB = ['# LoRA on the same data: the BitFit keys above are left behind', 'extends: previous', 'run_name: lora r4', 'method: lora', 'lora_r: 4', 'learning_rate: 0.005', ''];
const cellC = ['# long: interrupted by the test', 'extends: previous', 'run_name: long', 'num_train_epochs: 300', ''];
/** Never runs (the interrupt cancels it); there to show a diagnostic: a misspelt key. */
const cellD = ['extends: previous', 'learning_rte: 0.1', ''];

function notebookFile(): string {
  const code = (id: string, lines: string[]) => ({ kind: 'code', id, language: 'yaml', source: lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l)).filter(Boolean) });
  return JSON.stringify(
    { format: 'peft-studio-notebook', version: 1, cells: [{ kind: 'markdown', source: ['# Notebook e2e\n', 'Two runs, one interrupted, one comparison.'] }, code('aaaaaa', cellA), code('bbbbbb', cellB), code('cccccc', cellC), code('dddddd', cellD)] },
    null,
    2,
  );
}

/** Scrolls the cell list with the mouse wheel over a cell editor (native list DOM, not the output webview). */
async function scrollNotebook(page: Page, dy: number): Promise<void> {
  await page.locator('.code-cell-row .cell-editor-container').first().hover();
  for (let done = 0; done < dy; done += 400) {
    await page.mouse.wheel(0, 400);
    await page.waitForTimeout(100);
  }
}

const byLabel = (os: RunOutputState[], label: string) => os.find((o) => o.label === label);

test('PEFT notebook: run cells → live outputs → interrupt → compare → saved outputs', { timeout: 480_000 }, async (t) => {
  const { tmp, workspace } = makeTrainingWorkspace('peft-nb-e2e-', 160);
  const nbFile = path.join(workspace, 'experiments.peftnb');
  fs.writeFileSync(nbFile, notebookFile());
  const vsix = packageRepoVsix(tmp);

  const settings = { 'peftStudio.backend': 'wasm', 'notebook.confirmDeleteRunningCell': false };
  await withWorkbench(t, { tmp, extensionVsix: vsix, workspace, settings, viewport: { width: 1440, height: 1300 } }, async ({ page }) => {
    try {
      // The misspelt key of the last cell is reported as a problem (status bar: 1 error, 0 warnings).
      const { problems, startedAt: tRun } = await openNotebookAndRunAll(page, 'experiments.peftnb', 1);
      t.diagnostic(`problems in the status bar: ${problems}`);

      const frame = notebookOutputsFrame(page);
      await until('live points in the first cell', () => runOutputs(frame), (os) => (byLabel(os, 'all biases')?.points ?? 0) >= 5 && byLabel(os, 'all biases')?.status === 'running', 120_000);
      await until('two finished cells', () => runOutputs(frame), (os) => byLabel(os, 'all biases')?.status === 'finished' && byLabel(os, 'lora r4')?.status === 'finished', 240_000);
      const finished = await runOutputs(frame);
      t.diagnostic(`two cells trained in ${((Date.now() - tRun) / 1000).toFixed(1)} s: ${JSON.stringify(finished)}`);
      for (const label of ['all biases', 'lora r4']) {
        const o = byLabel(finished, label)!;
        assert.ok(o.points >= 20, `${label}: ${o.points} loss points drawn`);
      }
      // Every bias trains in the first run; the LoRA run's grid has its two targets (query, value) per layer.
      assert.ok(byLabel(finished, 'all biases')!.heat >= LAYERS * KINDS, `all-biases heatmap has ${byLabel(finished, 'all biases')!.heat} non-zero cells`);
      assert.equal(byLabel(finished, 'lora r4')!.heat, LAYERS * 2, 'LoRA heatmap: query and value of every layer');
      assert.equal(byLabel(finished, 'all biases')!.method, 'BitFit all');
      assert.equal(byLabel(finished, 'lora r4')!.method, 'LoRA r=4 lora_alpha=8 query+value');

      await screenshot(page, 'notebook-two-finished');

      // The third cell starts; interrupt it once it has drawn something. Outputs render only when their cell
      // is in view, so scroll down to it first.
      await scrollNotebook(page, 3000);
      await until('the third cell running', () => runOutputs(frame), (os) => (byLabel(os, 'long')?.points ?? 0) >= 3, 120_000);
      const stop = page.locator('.notebook-toolbar-container a.action-label[aria-label^="Stop Execution"], .notebook-toolbar-container a.action-label[aria-label^="Interrupt"]').first();
      await stop.click({ timeout: 10_000 });
      const stopped = await until('the third run stopped', () => runOutputs(frame), (os) => byLabel(os, 'long')?.status === 'stopped', 60_000);
      const stats = await frame.locator('body').evaluate(() => (globalThis as unknown as { __peftNotebookRenderer?: { stats(): { latencySamples: number; latencySumMs: number; latencyMaxMs: number; renders: number } } }).__peftNotebookRenderer?.stats());
      assert.ok(stats && stats.latencySamples > 0, 'live updates were measured');
      t.diagnostic(`renderer: ${stats!.renders} renders; worker step event → drawn latency mean ${(stats!.latencySumMs / stats!.latencySamples).toFixed(0)} ms, max ${stats!.latencyMaxMs} ms over ${stats!.latencySamples} live updates`);
      t.diagnostic(`third run stopped at ${byLabel(stopped, 'long')!.points} points`);

      // Compare every cell with a run: a comparison cell is appended and executed.
      await runCommand(page, 'PEFT: Compare Cells');
      const diffKeys = await until(
        'the comparison',
        () => frame.locator('[data-testid="peft-compare-output"]').first().getAttribute('data-diff-keys', { timeout: 2000 }),
        (k) => typeof k === 'string' && k.length > 0,
        60_000,
      );
      const keys = diffKeys!.split(',');
      for (const k of ['method.name', 'method.r', 'learning_rate', 'num_train_epochs']) assert.ok(keys.includes(k), `comparison lists ${k}: ${diffKeys}`);
      const methods = await frame.locator('[data-testid="peft-compare-output"]').first().getAttribute('data-methods');
      assert.equal(methods, 'BitFit all|LoRA r=4 lora_alpha=8 query+value|LoRA r=4 lora_alpha=8 query+value', 'the comparison names each run\'s method');
      assert.ok(!keys.includes('model') && !keys.includes('run_name'), `comparison lists only differing settings: ${diffKeys}`);
      assert.ok(!keys.includes('method.bias_terms') && !keys.includes('method.lora_dropout'), `method settings left at their defaults are not listed: ${diffKeys}`);
      await frame.locator('[data-testid="peft-compare-output"]').first().scrollIntoViewIfNeeded().catch(() => undefined);
      await screenshot(page, 'notebook-compare');

      // Re-run with Changes…: the first run's config comes back as a new cell.
      await runCommand(page, 'PEFT: Re-run with Changes');
      const pick = page.locator('.quick-input-widget .monaco-list-row[aria-label*="all biases"]').first();
      await pick.click({ timeout: 20_000 });
      await page.locator('.code-cell-row .view-lines', { hasText: 'Re-run of "all biases"' }).first().waitFor({ timeout: 20_000 });

      // Save: the file keeps each cell's output (the finished curves) and the comparison.
      await page.locator('.notebook-editor').first().click({ position: { x: 5, y: 5 } }).catch(() => undefined);
      await runCommand(page, 'File: Save');
      const saved = await until('the saved notebook', async () => JSON.parse(fs.readFileSync(nbFile, 'utf8')) as { cells: Array<{ id?: string; outputs?: Array<{ mime: string; data: { status?: string; loss?: { step: number[] }; diff?: unknown[] } }> }> }, (nb) => nb.cells.some((c) => c.outputs?.some((o) => o.mime.endsWith('compare+json'))), 20_000);
      const statusOf = (id: string) => saved.cells.find((c) => c.id === id)?.outputs?.[0]?.data.status;
      assert.deepEqual(['aaaaaa', 'bbbbbb', 'cccccc'].map(statusOf), ['finished', 'finished', 'stopped']);
      const pts = saved.cells.find((c) => c.id === 'aaaaaa')!.outputs![0]!.data.loss!.step.length;
      assert.ok(pts > 0 && pts <= 200, `saved loss series has ${pts} points`);
      t.diagnostic(`saved notebook: ${(fs.statSync(nbFile).size / 1024).toFixed(1)} KiB`);

      // Runs started from cells record where they came from.
      const runsDir = path.join(workspace, '.peft-studio', 'runs');
      const origins = fs.readdirSync(runsDir).map((d) => path.join(runsDir, d, 'origin.json')).filter((f) => fs.existsSync(f)).map((f) => JSON.parse(fs.readFileSync(f, 'utf8')) as { cellId: string; notebook: string });
      assert.deepEqual(origins.map((o) => o.cellId).sort(), ['aaaaaa', 'bbbbbb', 'cccccc']);
      const rerun = saved.cells.at(-1) as unknown as { source: string[] };
      assert.ok(rerun.source.some((l) => /^learning_rate: 0.002/.test(l)) && rerun.source.some((l) => /^model: tiny-bert/.test(l)), `re-run cell: ${rerun.source.join('')}`);
      assert.ok(origins.every((o) => o.notebook === nbFile));
    } catch (e) {
      t.diagnostic(`failure screenshot: ${await screenshot(page, 'notebook-failure').catch(() => 'none')}`);
      const runsDir = path.join(workspace, '.peft-studio', 'runs');
      for (const d of fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : []) {
        const ev = path.join(runsDir, d, 'events.jsonl');
        const lines = fs.existsSync(ev) ? fs.readFileSync(ev, 'utf8').trim().split('\n') : [];
        t.diagnostic(`${d}: ${fs.readdirSync(path.join(runsDir, d)).join(' ')}; last event ${lines.at(-1)?.slice(0, 300)}`);
      }
      throw e;
    }
  });
});
