/**
 * A method study from a notebook, end to end in real VS Code (code-server) driven by Playwright: a `study:`
 * cell with 3 methods (BitFit, LoRA, full) × 3 seeds on the tiny e2e model → Run All → the output shows
 * progress, then the report: a table with one row per method (best underlined), the metric-vs-parameters
 * chart and the what-moved grids; the runs are ordinary run folders of the study under the runs folder. A
 * second study cell with an unknown axis is a problem before anything runs, and running it fails without
 * starting the study. Running the cells again redoes no finished run. "Open study report" on the cell opens the study tab with the same table.
 * Screenshots go to test-output/e2e/. Needs scripts/e2e/setup.sh.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import { makeTrainingWorkspace, packageRepoVsix, runCommand, screenshot, until, webviewFrame, withWorkbench } from './harness';

const EXT_ID = 'peft-studio.peft-studio';
const METHODS = ['bitfit', 'lora(lora_r=4)', 'full'];

const study = [
  '# Three methods, three seeds each',
  'study:',
  '  name: e2e-methods',
  '  base:',
  '    model: tiny-bert',
  '    train_file: data/reviews.tsv',
  '    eval_file: data/reviews.tsv',
  '    max_steps: 6',
  '    per_device_train_batch_size: 8',
  '    max_length: 32',
  '    bias_change_steps: 3',
  '  axes:',
  '    method: [bitfit, {name: lora, lora_r: 4}, full]',
  '    seed: [0, 1, 2]',
  '',
];
/** An axis the study does not know: a problem on its line, and the cell fails without training. */
const badStudy = ['study:', '  name: e2e-bad', '  base: {model: tiny-bert, train_file: data/reviews.tsv}', '  axes:', '    sede: [0, 1]', ''];

function notebookFile(): string {
  const code = (id: string, lines: string[]) => ({ kind: 'code', id, language: 'yaml', source: lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l)).filter(Boolean) });
  return JSON.stringify({ format: 'peft-studio-notebook', version: 1, cells: [{ kind: 'markdown', source: ['# Study e2e\n'] }, code('s1s1s1', study), code('s2s2s2', badStudy)] }, null, 2);
}

function outputsFrame(page: Page): FrameLocator {
  return page.locator('iframe.webview.ready[src*="purpose=notebookRenderer"]').first().contentFrame().locator('#active-frame').contentFrame();
}

interface StudyState {
  status: string;
  done: number;
  total: number;
  rows: string[];
  best: string[];
  charts: string[];
  svgs: number;
}

async function studyState(frame: FrameLocator): Promise<StudyState | undefined> {
  const out = frame.locator('[data-testid="peft-study-output"]').first();
  if (!(await out.count())) return undefined;
  // Runs in the page (no DOM types here): the few members used, typed by hand.
  interface El {
    dataset: Record<string, string | undefined>;
    textContent: string | null;
    querySelector(s: string): El | null;
    querySelectorAll(s: string): ArrayLike<El>;
    getAttribute(a: string): string | null;
  }
  return out.evaluate((node) => {
    const e = node as unknown as El;
    const d = e.dataset;
    const rows = Array.from(e.querySelectorAll('[data-testid="study-row"]'));
    return {
      status: d.status ?? '',
      done: Number(d.done ?? 0),
      total: Number(d.total ?? 0),
      rows: rows.map((r) => r.querySelector('th')?.textContent ?? ''),
      best: rows.filter((r) => r.querySelector('u')).map((r) => r.querySelector('th')?.textContent ?? ''),
      charts: Array.from(e.querySelectorAll('figure')).map((f) => f.getAttribute('data-testid') ?? ''),
      svgs: e.querySelectorAll('figure svg circle, figure svg rect').length,
    };
  });
}

test('PEFT notebook study: 3 methods × 3 seeds → progress → report table, charts, grids → study tab', { timeout: 480_000 }, async (t) => {
  const { tmp, workspace } = makeTrainingWorkspace('peft-study-e2e-', 64);
  const nbFile = path.join(workspace, 'study.peftnb');
  fs.writeFileSync(nbFile, notebookFile());
  const vsix = packageRepoVsix(tmp);
  const studiesDir = path.join(workspace, '.peft-studio', 'runs', 'studies');

  const settings = { 'peftStudio.backend': 'wasm', 'notebook.confirmDeleteRunningCell': false };
  await withWorkbench(t, { tmp, extensionVsix: vsix, workspace, settings, viewport: { width: 1440, height: 1300 } }, async ({ page }) => {
    try {
      await runCommand(page, 'Go to File');
      const input = page.locator('.quick-input-widget .quick-input-box input');
      await input.fill('study.peftnb');
      await page.locator('.quick-input-widget .monaco-list-row[aria-label*="study.peftnb"]').first().click({ timeout: 20_000 });
      await page.locator('.code-cell-row').first().waitFor({ timeout: 30_000 });

      // The unknown axis of the second cell is a problem before anything runs (1 error, 0 warnings).
      const problems = await until('the diagnostic', () => page.locator('[id="status.problems"]').first().textContent(), (txt) => /1\D+0/.test(txt ?? ''), 30_000);
      t.diagnostic(`problems in the status bar: ${problems?.trim()}`);

      const runAll = page.locator('.notebook-toolbar-container a.action-label[aria-label^="Run All"]').first();
      await until('the Run All button', async () => (await runAll.isVisible()) && !(await runAll.getAttribute('class'))?.includes('disabled'), (v) => v, 60_000);
      await runAll.click();
      const tRun = Date.now();

      const frame = outputsFrame(page);
      const live = await until('study progress', () => studyState(frame), (s) => s !== undefined && (s.status === 'running' || s.status === 'finished') && s.total === 9, 120_000);
      t.diagnostic(`first progress seen: ${JSON.stringify(live)}`);
      await screenshot(page, 'study-running');
      const done = await until('the finished study', () => studyState(frame), (s) => s?.status === 'finished' && s.charts.length >= 2, 240_000);
      const seconds = (Date.now() - tRun) / 1000;
      t.diagnostic(`study of 9 runs finished in ${seconds.toFixed(1)} s: ${JSON.stringify(done)}`);
      assert.equal(done!.done, 9);
      assert.equal(done!.rows.length, 3, 'one table row per method');
      assert.deepEqual([...done!.rows].sort(), [...METHODS].sort());
      assert.equal(done!.best.length, 1, 'one best row, underlined');
      assert.deepEqual(done!.charts, ['study-chart-metric-vs-params', 'study-chart-what-moved']);
      assert.ok(done!.svgs > 20, `charts drew ${done!.svgs} shapes`);

      // The study's runs are ordinary run folders of its folder, beside the report the table came from.
      const dir = path.join(studiesDir, 'e2e-methods');
      const report = JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as { rows: Array<{ axes: { method: string }; best?: boolean }> };
      assert.deepEqual(done!.rows, report.rows.map((r) => r.axes.method), 'the table keeps the report\'s order');
      assert.equal(done!.best[0], report.rows.find((r) => r.best)!.axes.method);
      const runs = fs.readdirSync(path.join(dir, 'runs'));
      assert.equal(runs.length, 9);
      for (const r of runs) assert.ok(fs.existsSync(path.join(dir, 'runs', r, 'events.jsonl')), r);
      assert.ok(!fs.existsSync(path.join(studiesDir, 'e2e-bad')), 'the invalid study started nothing');

      await frame.locator('[data-testid="peft-study-output"]').first().scrollIntoViewIfNeeded().catch(() => undefined);
      await screenshot(page, 'study-notebook');

      // Running the cell again resumes the study: every run is finished, so none is redone.
      const mtimes = () => runs.map((r) => fs.statSync(path.join(dir, 'runs', r, 'events.jsonl')).mtimeMs).join(',');
      const before = mtimes();
      const reportBefore = fs.statSync(path.join(dir, 'report.json')).mtimeMs;
      await runAll.click();
      await until('the study run again', async () => fs.statSync(path.join(dir, 'report.json')).mtimeMs, (m) => m > reportBefore, 60_000);
      const again = await until('the resumed study finished', () => studyState(frame), (s) => s?.status === 'finished' && s.done === 9, 60_000);
      assert.equal(mtimes(), before, 'no finished run was redone');
      assert.deepEqual(again!.rows, done!.rows);

      // The invalid study's cell failed with its problem, naming the axis (its output renders once in view).
      await page.locator('.code-cell-row .cell-editor-container').first().hover();
      for (let dy = 0; dy < 3000; dy += 400) {
        await page.mouse.wheel(0, 400);
        await page.waitForTimeout(100);
      }
      const refused = await until('the invalid study\'s error', () => frame.getByText(/unknown axis "sede"/).count(), (n) => n > 0, 30_000);
      assert.ok(refused > 0);
      await page.locator('.code-cell-row .cell-editor-container').last().hover();
      for (let dy = 0; dy < 3000; dy += 400) {
        await page.mouse.wheel(0, -400);
        await page.waitForTimeout(100);
      }

      // The cell's status bar links to the study tab: the same table, from the same report.
      await page.locator('.cell-status-item', { hasText: 'Open study report' }).first().click({ timeout: 20_000 });
      const tab = webviewFrame(page, EXT_ID);
      const inTab = await until('the study tab', () => studyState(tab).catch(() => undefined), (s) => s?.status === 'finished' && s.rows.length === 3 && s.charts.length >= 2, 60_000);
      assert.deepEqual(inTab!.rows, done!.rows);
      await screenshot(page, 'study-tab');
    } catch (e) {
      t.diagnostic(`failure screenshot: ${await screenshot(page, 'study-failure').catch(() => 'none')}`);
      const dir = path.join(studiesDir, 'e2e-methods', 'runs');
      for (const d of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        const ev = path.join(dir, d, 'events.jsonl');
        const lines = fs.existsSync(ev) ? fs.readFileSync(ev, 'utf8').trim().split('\n') : [];
        t.diagnostic(`${d}: last event ${lines.at(-1)?.slice(0, 300)}`);
      }
      throw e;
    }
  });
});
