/**
 * "Try it" end to end, in real VS Code (code-server) driven by Playwright in Chromium: a workspace with a
 * finished LoRA run → "PEFT: Try It…" → type a sentence, press Enter → the table shows the trained and base
 * probabilities the CLI prints for the run's merged export and the base folder. Screenshots go to
 * test-output/e2e/. Needs scripts/e2e/setup.sh. (Batch mode's file dialog is not driven here; the predict
 * worker's batch output is tested in test/extension/playground-worker.test.ts.)
 *
 * The extension is built by the real build script in a copy of the checkout, so this test never rewrites
 * the repository's dist/ while another test may be packaging from it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { initBackend } from '../../engine/backend/select';
import { resolveRunConfig } from '../../engine/train/config';
import { train } from '../../engine/train/trainer';
import { formatProbability } from '../../webview/src/playground/model';
import { makeTrainingWorkspace, REPO_ROOT, runCommand, screenshot, until, webviewFrame, withWorkbench } from './harness';

const EXT_ID = 'peft-studio.peft-studio';
const SENTENCE = 'a very good film';
const BIN = path.join(REPO_ROOT, 'bin/peft-studio.js');

/** The extension folder as the .vsix would hold it, built by scripts/build.mjs in a copy of the checkout. */
function buildExtension(tmp: string): string {
  const copy = path.join(tmp, 'checkout');
  const skip = new Set(['node_modules', '.git', 'dist', 'test-output', 'runs', 'bench']);
  fs.cpSync(REPO_ROOT, copy, { recursive: true, filter: (src) => !skip.has(path.basename(src)) || path.dirname(src) !== REPO_ROOT });
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  execFileSync(process.execPath, [path.join(copy, 'scripts/build.mjs'), '--production'], { cwd: copy, stdio: ['ignore', 'ignore', 'inherit'] });
  const ext = path.join(tmp, 'extension');
  for (const f of ['package.json', 'dist', 'media', 'schemas']) fs.cpSync(path.join(copy, f), path.join(ext, f), { recursive: true });
  return ext;
}

function cliJson(...args: string[]): { label: string; probabilities: number[] } {
  const out = execFileSync(process.execPath, [BIN, ...args, '--json', '--backend', 'wasm'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out.trim().split('\n').pop()!);
}

test('Try it: a sentence against the trained and base model', { timeout: 480_000 }, async (t) => {
  const { tmp, workspace, modelDir, trainFile } = makeTrainingWorkspace('peft-e2e-try-', 64, ['neg', 'pos']);

  await initBackend({ backend: 'wasm', reinit: true });
  const run = await train(resolveRunConfig({ model: modelDir, train_file: trainFile, output_dir: path.join(workspace, '.peft-studio', 'runs', 'try-run'), run_name: 'try-run', method: 'lora', lora_r: 4, max_steps: 6, per_device_train_batch_size: 8, eval_split: 0.25, learning_rate: 0.01, backend: 'wasm' }));
  assert.equal(run.status, 'finished', run.reason);
  execFileSync(process.execPath, [BIN, 'export', run.runDir, '--merged', path.join(tmp, 'merged')], { cwd: REPO_ROOT, stdio: 'ignore' });
  const trained = cliJson('predict', path.join(tmp, 'merged'), '--text', SENTENCE);
  const base = cliJson('predict', modelDir, '--text', SENTENCE);

  const ext = buildExtension(tmp);
  await withWorkbench(t, { tmp, extensionDir: ext, workspace, settings: { 'peftStudio.backend': 'wasm' } }, async ({ page }) => {
    await runCommand(page, 'PEFT: Try It…');
    const frame = webviewFrame(page, EXT_ID);
    await frame.locator('[data-testid="predict"]:not([disabled])').waitFor({ timeout: 90_000 });
    // A LoRA run: the picker and the run line name the method; the trained model is the base with its LoRA update.
    assert.match((await frame.locator('[data-testid="run-select"]').textContent()) ?? '', /try-run — LoRA r=4/);
    await until('the run line', () => frame.locator('[data-testid="run-info"]').textContent(), (s) => /^LoRA r=4 lora_alpha=8 query\+value · checkpoint step-00000006 \((its best|its latest)[^)]*\) · /.test(s ?? ''));
    await frame.locator('[data-testid="text"]').fill(SENTENCE);
    await frame.locator('[data-testid="text"]').press('Enter');
    const summary = await until('a prediction', () => frame.locator('[data-testid="summary"]').textContent(), (s) => /Trained:/.test(s ?? ''));
    t.diagnostic(summary ?? '');
    const rows = await frame.locator('[data-testid="result-table"] tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('th, td .value')].map((c) => c.textContent)));
    assert.deepEqual(rows, ['neg', 'pos'].map((label, i) => [label, formatProbability(trained.probabilities[i]!), formatProbability(base.probabilities[i]!)]));
    assert.match(summary ?? '', new RegExp(`^Trained: ${trained.label} `));
    assert.match((await frame.locator('[data-testid="latency"]').textContent()) ?? '', /trained .+ · base .+ · round trip/);
    await screenshot(page, 'playground-predict');
  });
});
