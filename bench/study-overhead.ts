/**
 * A study's per-run overhead against its runs' training time. Either runs a small study (BERT-Tiny-sized
 * bert-mlm-tiny from ../shared, SST-2, 200 steps, three methods) into a temporary folder, or (`--from DIR…`)
 * summarises study folders already run. Prints one row per run — start-up (backend, data, tokenization,
 * model load, method set-up), training loop, final evaluation, teardown (final report, checkpoint, disposal),
 * the study's own work (data subset, random-init copy) — and the overhead as a share of training time.
 *
 *   node --import tsx bench/study-overhead.ts [--steps 200] [--rows 2000]
 *   node --import tsx bench/study-overhead.ts --from studies/methods-sst2 studies/bitfit-init-sst2
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend } from '../engine/backend/select';
import { expandStudy, validateStudyConfig } from '../engine/study/config';
import { runStudy } from '../engine/study/runner';

interface Timing {
  startupSeconds: number;
  trainSeconds: number;
  finalEvalSeconds: number;
  teardownSeconds: number;
  studySeconds: number;
  steps: number;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { from: { type: 'boolean' }, steps: { type: 'string' }, rows: { type: 'string' } }, allowPositionals: true });
  let dirs = positionals;
  if (!values.from) {
    const shared = path.resolve(__dirname, '../../shared');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-study-bench-'));
    await initBackend();
    const study = expandStudy(
      validateStudyConfig({
        name: 'overhead',
        base: {
          model: path.join(shared, 'models/bert-mlm-tiny'), train_file: path.join(shared, 'glue/SST-2/train.tsv'), eval_file: path.join(shared, 'glue/SST-2/dev.tsv'),
          train_rows: Number(values.rows ?? 2000), max_steps: Number(values.steps ?? 200), max_length: 64, eval_strategy: 'steps', eval_steps: Number(values.steps ?? 200), save_steps: 0,
        },
        axes: { seed: [0], method: ['bitfit', 'lora', 'full'] },
      }),
      process.cwd(),
    );
    await runStudy(study, { outDir: out });
    dirs = [out];
  }
  const rows: Array<{ id: string; t: Timing }> = [];
  for (const d of dirs) {
    const runs = path.join(d, 'runs');
    for (const id of fs.readdirSync(runs).sort()) {
      const f = path.join(runs, id, 'study-run.json');
      if (!fs.existsSync(f)) continue;
      const rec = JSON.parse(fs.readFileSync(f, 'utf8')) as { timing?: Timing };
      if (rec.timing && rec.timing.steps > 0) rows.push({ id: `${path.basename(d)}/${id}`, t: rec.timing });
    }
  }
  const pct = (t: Timing) => (100 * (t.startupSeconds + t.teardownSeconds + t.studySeconds)) / t.trainSeconds;
  const w = Math.max(...rows.map((r) => r.id.length), 4);
  console.log(`${'run'.padEnd(w)}  steps  start-up  train     final eval  teardown  study  overhead`);
  for (const { id, t } of rows) {
    console.log(`${id.padEnd(w)}  ${String(t.steps).padStart(5)}  ${t.startupSeconds.toFixed(2).padStart(7)}s ${t.trainSeconds.toFixed(1).padStart(7)}s  ${t.finalEvalSeconds.toFixed(2).padStart(9)}s ${t.teardownSeconds.toFixed(2).padStart(8)}s ${t.studySeconds.toFixed(2).padStart(5)}s  ${pct(t).toFixed(1).padStart(6)}%`);
  }
  const sum = (f: (t: Timing) => number) => rows.reduce((a, r) => a + f(r.t), 0);
  const over = sum((t) => t.startupSeconds + t.teardownSeconds + t.studySeconds);
  console.log(`\n${rows.length} runs: overhead ${over.toFixed(1)} s over ${sum((t) => t.trainSeconds).toFixed(1)} s of training = ${((100 * over) / sum((t) => t.trainSeconds)).toFixed(1)}% (median run ${median(rows.map((r) => pct(r.t))).toFixed(1)}%, worst ${Math.max(...rows.map((r) => pct(r.t))).toFixed(1)}%)`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
}

void main();
