/**
 * Adapters, one base with many task runs, and distillation end to end, in real VS Code (code-server) driven
 * by Playwright in Chromium, in one workbench session: a notebook trains Houlsby adapters on reviews,
 * Pfeiffer adapters on a second task (topics) from the same tiny BERT, BitFit, LoRA and prompt tuning on reviews, and a
 * distilled student of a finished full fine-tuning run → the adapter outputs show their what-moved grid →
 * "PEFT: Compare Cells" lists the methods side by side → the distilled run's output and dashboard show
 * its loss parts (kd, task) and the teacher's score as a reference line → "Try It" switches between the two
 * task adapters of the base. Screenshots go to test-output/e2e/. Needs scripts/e2e/setup.sh.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { FrameLocator, Page } from 'playwright-core';
import { initBackend } from '../../engine/backend/select';
import { resolveRunConfig } from '../../engine/train/config';
import { train } from '../../engine/train/trainer';
import { makeRows, writeTsv } from '../helpers/train-fixtures';
import { makeTrainingWorkspace, packageRepoVsix, runCommand, screenshot, until, withWorkbench, notebookOutputsFrame, runOutputs, type RunOutputState } from './harness';

const common = ['model: tiny-bert', 'max_steps: 8', 'per_device_train_batch_size: 8', 'max_length: 32', 'eval_split: 0.25'];

function notebookFile(teacherDir: string): string {
  const cells: Array<[string, string[]]> = [
    ['hhhhhh', ['run_name: houlsby reviews', ...common, 'train_file: data/reviews.tsv', 'method: houlsby', 'learning_rate: 0.01']],
    ['pppppp', ['run_name: pfeiffer topics', ...common, 'train_file: data/topics/train.tsv', 'method: pfeiffer', 'learning_rate: 0.01']],
    ['bbbbbb', ['run_name: bitfit reviews', ...common, 'train_file: data/reviews.tsv', 'method: bitfit', 'learning_rate: 0.005']],
    ['llllll', ['run_name: lora reviews', ...common, 'train_file: data/reviews.tsv', 'method: lora', 'lora_r: 4', 'learning_rate: 0.01']],
    ['tttttt', ['run_name: prompt reviews', ...common, 'train_file: data/reviews.tsv', 'method: prompt-tuning', 'learning_rate: 0.01']],
    ['dddddd', ['run_name: distilled', 'train_file: data/reviews.tsv', 'max_steps: 8', 'per_device_train_batch_size: 8', 'max_length: 32', 'eval_split: 0.25', 'learning_rate: 0.005', 'method:', '  name: distill', `  teacher: ${JSON.stringify(teacherDir)}`, '  student_layers: 1', '  student_method: bitfit']],
  ];
  const code = (id: string, lines: string[]) => ({ kind: 'code', id, language: 'yaml', source: [...lines, ''].map((l, i, a) => (i < a.length - 1 ? `${l}\n` : l)).filter(Boolean) });
  return JSON.stringify({ format: 'peft-studio-notebook', version: 1, cells: [{ kind: 'markdown', source: ['# Adapters, tasks, distillation'] }, ...cells.map(([id, l]) => code(id, l))] }, null, 2);
}

/** The editor webview (dashboard, playground) whose page holds `testid`: several may be open, some hidden. */
async function panelFrame(page: Page, testid: string): Promise<FrameLocator> {
  return (await until(
    `a webview with ${testid}`,
    async () => {
      const outers = page.locator('iframe.webview.ready:not([src*="purpose=webviewView"])');
      for (let i = 0; i < (await outers.count()); i++) {
        const f = outers.nth(i).contentFrame().locator('#active-frame').contentFrame();
        if ((await f.locator(`[data-testid="${testid}"]`).count()) > 0) return f;
      }
      return undefined;
    },
    (f) => f !== undefined,
    60_000,
  ))!;
}

const LABELS = ['houlsby reviews', 'pfeiffer topics', 'bitfit reviews', 'lora reviews', 'prompt reviews', 'distilled'];

test('adapters on two tasks of one base, compare with BitFit, LoRA and prompt tuning, distillation, Try It task switching', { timeout: 600_000 }, async (t) => {
  const { tmp, workspace, modelDir, trainFile } = makeTrainingWorkspace('peft-methods-e2e-', 64, ['neg', 'pos']);
  fs.mkdirSync(path.join(workspace, 'data', 'topics'), { recursive: true });
  writeTsv(path.join(workspace, 'data', 'topics', 'train.tsv'), makeRows(64, 11), ['sports', 'politics']);

  // The teacher: a finished full fine-tuning run in the workspace's runs folder (the Runs tree lists it).
  await initBackend({ backend: 'wasm', reinit: true });
  const teacherDir = path.join(workspace, '.peft-studio', 'runs', 'teacher-full');
  const teacher = await train(resolveRunConfig({ model: modelDir, train_file: trainFile, output_dir: teacherDir, run_name: 'teacher full', method: 'full', max_steps: 8, per_device_train_batch_size: 8, eval_split: 0.25, learning_rate: 0.001, backend: 'wasm' }));
  assert.equal(teacher.status, 'finished', teacher.reason);

  const nbFile = path.join(workspace, 'methods.peftnb');
  fs.writeFileSync(nbFile, notebookFile(teacherDir));
  const vsix = packageRepoVsix(tmp);
  const settings = { 'peftStudio.backend': 'wasm' };
  await withWorkbench(t, { tmp, extensionVsix: vsix, workspace, settings, viewport: { width: 1440, height: 1300 } }, async ({ page }) => {
    try {
      await runCommand(page, 'Go to File');
      await page.locator('.quick-input-widget .quick-input-box input').fill('methods.peftnb');
      await page.locator('.quick-input-widget .monaco-list-row[aria-label*="methods.peftnb"]').first().click({ timeout: 20_000 });
      await page.locator('.code-cell-row').first().waitFor({ timeout: 30_000 });
      const runAll = page.locator('.notebook-toolbar-container a.action-label[aria-label^="Run All"]').first();
      await until('the Run All button', async () => (await runAll.isVisible()) && !(await runAll.getAttribute('class'))?.includes('disabled'), (v) => v, 60_000);
      await runAll.click();

      // Outputs render only in view: scroll through the cells while they train.
      const frame = notebookOutputsFrame(page);
      const done = (os: RunOutputState[]) => LABELS.every((l) => os.find((o) => o.label === l)?.status === 'finished');
      const deadline = Date.now() + 360_000;
      let os: RunOutputState[] = [];
      for (;;) {
        os = await runOutputs(frame).catch(() => os);
        if (done(os) || Date.now() > deadline) break;
        // Over the notebook's cell list (hovering a cell would scroll it back into view).
        await page.mouse.move(900, 700);
        await page.mouse.wheel(0, 500);
        await page.waitForTimeout(1500);
      }
      t.diagnostic(JSON.stringify(os));
      assert.ok(done(os), `every cell finished: ${JSON.stringify(os.map((o) => [o.label, o.status]))}`);
      const by = (l: string) => os.find((o) => o.label === l)!;
      assert.match(by('houlsby reviews').method, /^Houlsby/);
      assert.match(by('pfeiffer topics').method, /^Pfeiffer/);
      assert.ok(by('houlsby reviews').heat > 0 && by('pfeiffer topics').heat > 0, 'adapter what-moved grids');
      assert.ok(by('distilled').components.split(',').includes('kd') && by('distilled').components.split(',').includes('task'), `loss parts: ${by('distilled').components}`);
      await frame.locator('[data-testid="peft-run-output"][data-method^="Pfeiffer"]').first().scrollIntoViewIfNeeded().catch(() => undefined);
      await screenshot(page, 'notebook-adapters');

      await runCommand(page, 'PEFT: Compare Cells');
      const methods = await until('the comparison', () => frame.locator('[data-testid="peft-compare-output"]').first().getAttribute('data-methods', { timeout: 2000 }), (m) => typeof m === 'string' && m.length > 0, 60_000);
      for (const m of [/Houlsby/, /Pfeiffer/, /BitFit/, /LoRA r=4/, /Prompt tuning/]) assert.match(methods!, m);
      await frame.locator('[data-testid="peft-compare-output"]').first().scrollIntoViewIfNeeded().catch(() => undefined);
      await screenshot(page, 'notebook-compare-methods');

      // The distilled run's dashboard: kd and task curves, the teacher's score as a flat line.
      await page.locator('.part.activitybar .action-item a[aria-label^="PEFT Studio"]').click();
      const row = page.locator('.part.sidebar .monaco-list-row:has-text("distilled")').first();
      await row.waitFor({ timeout: 20_000 });
      await row.click();
      const dash = await panelFrame(page, 'pause-button');
      const lines = await until(
        'the distillation lines',
        () => dash.locator('body').evaluate(() => {
          const hook = (globalThis as unknown as { __peftDashboard: { state(): { focused?: string }; distillLines(id: string): { components: Record<string, number>; teacher?: number; agreement: number; summary: boolean } } }).__peftDashboard;
          return hook.distillLines(hook.state().focused ?? '');
        }),
        (l) => (l.components.kd ?? 0) > 0 && (l.components.task ?? 0) > 0 && l.teacher !== undefined,
        60_000,
      );
      t.diagnostic(`distillation lines: ${JSON.stringify(lines)}`);
      assert.ok(lines.summary, 'the teacher-vs-student table arrived');
      assert.match((await dash.locator('[data-testid="distill-summary"]').textContent()) ?? '', /parameters/);
      await screenshot(page, 'dashboard-distill');
      assert.match((await page.locator('.part.sidebar .monaco-list-row:has-text("tiny-bert")').first().textContent()) ?? '', /2 tasks · 6 finished/);
      await screenshot(page, 'runs-tree-bases');

      // Try It: the Houlsby reviews run, then its base's other task run (Pfeiffer on topics).
      await runCommand(page, 'View: Close Editor');
      await runCommand(page, 'PEFT: Try It…');
      const play = await panelFrame(page, 'task-select');
      await play.locator('[data-testid="run-select"]').waitFor({ timeout: 60_000 });
      const houlsby = await play.locator('[data-testid="run-select"] option', { hasText: 'houlsby reviews' }).first().getAttribute('value');
      await play.locator('[data-testid="run-select"]').selectOption(houlsby!);
      await until('the Houlsby run', () => play.locator('[data-testid="active-base"]').textContent(), (s) => /base tiny-bert · task reviews · Houlsby/.test(s ?? ''), 60_000);
      const tasks = await play.locator('[data-testid="task-select"] option').allTextContents();
      assert.ok(tasks.some((x) => /^topics — Pfeiffer/.test(x)) && tasks.some((x) => /^reviews — Houlsby/.test(x)), tasks.join(' | '));
      assert.ok(!tasks.some((x) => /distil/i.test(x)), 'the distilled student has its own base');
      await play.locator('[data-testid="predict"]:not([disabled])').waitFor({ timeout: 90_000 });
      const pfeiffer = await play.locator('[data-testid="task-select"] option', { hasText: 'topics' }).first().getAttribute('value');
      await play.locator('[data-testid="task-select"]').selectOption(pfeiffer!);
      await until('the Pfeiffer run loaded', () => play.locator('[data-testid="run-info"]').textContent(), (s) => /^Pfeiffer/.test(s ?? ''), 90_000);
      assert.match((await play.locator('[data-testid="active-base"]').textContent()) ?? '', /base tiny-bert · task topics/);
      await play.locator('[data-testid="text"]').fill('a very good film');
      await play.locator('[data-testid="text"]').press('Enter');
      await until('a topics prediction', () => play.locator('[data-testid="result-table"] tbody').textContent(), (s) => /sports/.test(s ?? '') && /politics/.test(s ?? ''), 60_000);
      await screenshot(page, 'playground-tasks');
    } catch (e) {
      t.diagnostic(`failure screenshot: ${await screenshot(page, 'methods-failure').catch(() => 'none')}`);
      const runsDir = path.join(workspace, '.peft-studio', 'runs');
      for (const d of fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : []) {
        const ev = path.join(runsDir, d, 'events.jsonl');
        const ls = fs.existsSync(ev) ? fs.readFileSync(ev, 'utf8').trim().split('\n') : [];
        t.diagnostic(`${d}: last event ${ls.at(-1)?.slice(0, 300)}`);
      }
      throw e;
    }
  });
});
