/**
 * A method study from a notebook, end to end in real VS Code (code-server) driven by Playwright: a `study:`
 * cell with 3 methods (BitFit, LoRA, full) × 3 seeds on the tiny e2e model → Run All → the output shows
 * progress, then the report: a table with one row per method (best underlined), the metric-vs-parameters
 * chart and the what-moved grids; the runs are ordinary run folders of the study under the runs folder. A
 * second, long study is interrupted (stopped with a checkpoint). A third study cell with an unknown axis is
 * a problem before anything runs, and running it fails without starting the study. Running the cells again
 * redoes no finished run and resumes the stopped one. "Open study report" on the cell opens the study tab with the same table.
 * Screenshots go to test-output/e2e/. Needs scripts/e2e/setup.sh.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import { makeTrainingWorkspace, packageRepoVsix, screenshot, until, webviewFrame, withWorkbench, notebookOutputsFrame, openNotebookAndRunAll, notebookRunAllButton } from './harness';

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
/** Long enough to be interrupted: stopped with a checkpoint, resumed from it when run again. */
const longStudy = ['study:', '  name: e2e-long', '  base: {model: tiny-bert, train_file: data/reviews.tsv, max_steps: 5000, save_steps: 10, per_device_train_batch_size: 8, max_length: 32}', '  axes:', '    method: [bitfit]', '    seed: [0, 1]', ''];
/** An axis the study does not know: a problem on its line, and the cell fails without training. */
const badStudy = ['study:', '  name: e2e-bad', '  base: {model: tiny-bert, train_file: data/reviews.tsv}', '  axes:', '    sede: [0, 1]', ''];

function notebookFile(): string {
  const code = (id: string, lines: string[]) => ({ kind: 'code', id, language: 'yaml', source: lines.map((l, i) => (i < lines.length - 1 ? `${l}\n` : l)).filter(Boolean) });
  return JSON.stringify({ format: 'peft-studio-notebook', version: 1, cells: [{ kind: 'markdown', source: ['# Study e2e\n'] }, code('s1s1s1', study), code('s2s2s2', longStudy), code('s3s3s3', badStudy)] }, null, 2);
}

/**
 * Focuses the notebook's first or last cell (Ctrl+Home / Ctrl+End in the cell list), which scrolls it into
 * view: outputs render only once their cell has been in view, and the mouse wheel stops at a tall output.
 */
async function focusEdge(page: Page, edge: 'top' | 'bottom'): Promise<void> {
  // A cell editor well inside the viewport (one half under the tab bar would not take the click).
  const editors = page.locator('.code-cell-row .cell-editor-container:visible');
  const height = page.viewportSize()?.height ?? 900;
  for (let i = 0; i < (await editors.count()); i++) {
    const box = await editors.nth(i).boundingBox();
    if (box && box.y > 120 && box.y + 20 < height - 60) {
      await page.mouse.click(box.x + 40, box.y + 10);
      break;
    }
  }
  await page.keyboard.press('Escape');
  await page.keyboard.press(edge === 'top' ? 'Control+Home' : 'Control+End');
  await page.waitForTimeout(500);
}

interface StudyState {
  status: string;
  progress: string;
  done: number;
  total: number;
  rows: string[];
  best: string[];
  charts: string[];
  svgs: number;
}

async function studyState(frame: FrameLocator, name = 'e2e-methods'): Promise<StudyState | undefined> {
  const out = frame.locator(`[data-testid="peft-study-output"][data-name="${name}"]`).first();
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
      progress: e.querySelector('[data-testid="study-progress"]')?.textContent ?? '',
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
      // The unknown axis of the second cell is a problem before anything runs (1 error, 0 warnings).
      const { problems, startedAt: tRun } = await openNotebookAndRunAll(page, 'study.peftnb', 1);
      t.diagnostic(`problems in the status bar: ${problems}`);

      const frame = notebookOutputsFrame(page);
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

      await frame.locator('[data-testid="peft-study-output"]').first().scrollIntoViewIfNeeded().catch(() => undefined);
      await screenshot(page, 'study-notebook');

      // The long study (second cell) is running; Run All stops there when it is interrupted.
      await focusEdge(page, 'bottom');

      // Interrupting the cell stops the study after a step, with a checkpoint.
      const stop = page.locator('.notebook-toolbar-container a.action-label[aria-label^="Stop Execution"], .notebook-toolbar-container a.action-label[aria-label^="Interrupt"]').first();
      const longDir = path.join(studiesDir, 'e2e-long');
      const longRun = path.join(longDir, 'runs', 'method-bitfit__seed-0');
      await until('the long study stepping', () => studyState(frame, 'e2e-long'), (s) => s?.status === 'running' && /step (\d{2,})\//.test(s.progress), 120_000);
      await stop.click({ timeout: 10_000 });
      const stopped = await until('the long study stopped', () => studyState(frame, 'e2e-long'), (s) => s?.status === 'stopped', 60_000);
      t.diagnostic(`long study: ${stopped!.progress}`);
      const lastEvent = () => JSON.parse(fs.readFileSync(path.join(longRun, 'events.jsonl'), 'utf8').trim().split('\n').at(-1)!) as { type: string; step: number };
      assert.equal(lastEvent().type, 'stopped');
      assert.ok(fs.readdirSync(path.join(longRun, 'checkpoints')).length > 0, 'the stopped run has a checkpoint');
      assert.ok(!fs.existsSync(path.join(longDir, 'runs', 'method-bitfit__seed-1')), 'the study stopped: the next run never started');

      // The invalid study (the last cell) run on its own fails with its problem, naming the axis.
      await focusEdge(page, 'bottom');
      await page.locator('.code-cell-row', { hasText: 'e2e-bad' }).locator('.run-button-container a.action-label').first().click({ timeout: 10_000 });
      const refused = await until('the invalid study\'s error', () => frame.getByText(/unknown axis "sede"/).count(), (n) => n > 0, 30_000);
      assert.ok(refused > 0);
      assert.ok(!fs.existsSync(path.join(studiesDir, 'e2e-bad')), 'the invalid study started nothing');
      await screenshot(page, 'study-stopped');

      // Running the cell again resumes the study: every run is finished, so none is redone.
      const mtimes = () => runs.map((r) => fs.statSync(path.join(dir, 'runs', r, 'events.jsonl')).mtimeMs).join(',');
      const before = mtimes();
      const reportBefore = fs.statSync(path.join(dir, 'report.json')).mtimeMs;
      const stoppedAt = lastEvent().step;
      await notebookRunAllButton(page).click();
      await focusEdge(page, 'top');
      await until('the study run again', async () => fs.statSync(path.join(dir, 'report.json')).mtimeMs, (m) => m > reportBefore, 60_000);
      const again = await until('the resumed study finished', () => studyState(frame), (s) => s?.status === 'finished' && s.done === 9, 60_000);
      assert.equal(mtimes(), before, 'no finished run was redone');
      assert.deepEqual(again!.rows, done!.rows);
      await focusEdge(page, 'bottom');
      const resumed = await until('the long study resumed', () => studyState(frame, 'e2e-long'), (s) => s?.status === 'running' && /\(resumed\) step (\d+)/.test(s.progress) && Number(/step (\d+)/.exec(s.progress)![1]) > stoppedAt, 120_000);
      t.diagnostic(`long study resumed from step ${stoppedAt}: ${resumed!.progress}`);
      await stop.click({ timeout: 10_000 });
      await until('the long study stopped again', () => studyState(frame, 'e2e-long'), (s) => s?.status === 'stopped', 60_000);
      const starts = fs.readFileSync(path.join(longRun, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: number; resumedFrom?: unknown }).filter((e) => e.type === 'started');
      assert.equal(starts.length, 2, 'one run folder, started twice: resumed, not redone');
      await focusEdge(page, 'top');

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
