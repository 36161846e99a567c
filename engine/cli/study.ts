/**
 * `peft-studio study FILE --out DIR`: runs every run of a study (YAML or JSON) in this process, one after
 * another, and writes the report (report.md, results.csv, SVG charts) into DIR. Running it again resumes:
 * finished runs are kept, a stopped run continues from its checkpoint. Ctrl-C stops after the current
 * step with a checkpoint; `--report` only rewrites the report from the run folders.
 */
import * as path from 'node:path';
import { initBackend } from '../backend/select';
import { loadStudyFile } from '../study/config';
import { runStudy, StudyControl, type StudyEvent } from '../study/runner';
import { attachControl } from './train';
import { writeReport } from '../study/report';
import { backendOption, parse } from './args';

export const STUDY_HELP = `usage: peft-studio study FILE [--out DIR] [--base-dir DIR] [--report] [--dry-run] [--json] [--control stdin] [--backend NAME]

Runs a study: a base run config and axes, every combination one run (an ordinary run folder under DIR/runs/).
  base: { model: ../shared/models/bert-mlm-tiny, train_file: train.tsv, eval_file: dev.tsv, max_steps: 200 }
  axes: { method: [full, bitfit, {name: lora, lora_r: 4, label: lora-r4}], seed: [0, 1, 2], train_rows: [500, 5000] }
Axes: method (a name or {name, label?, settings…}), seed, train_rows (first N rows after a seeded shuffle;
data_seed sets the shuffle's seed, default the run's seed), init_from_scratch (true: a randomly initialised
copy of the model), and any run-config key (learning_rate, max_steps, …).
Writes DIR/report.md, report.json (the same report as data), results.csv, metric-vs-params.svg,
metric-vs-rows.svg, what-moved.svg (rewritten after each run, so a running study can be watched).
Running the same study again resumes it: finished runs are kept, stopped ones continue from their checkpoint,
failed ones run again. Ctrl-C stops after the current step (a checkpoint is written); a second Ctrl-C exits.
  --out DIR       study folder (default: ./studies/<file name>)
  --base-dir DIR  folder the study's relative paths are relative to (default: the study file's)
  --report        only (re)write the report from the run folders
  --dry-run       validate the study and list its runs
  --json          study and run events as JSON lines on stdout
  --control stdin read pause / resume / stop lines from stdin
`;

export async function studyCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { out: { type: 'string' }, 'base-dir': { type: 'string' }, report: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, control: { type: 'string' }, backend: { type: 'string' } }, STUDY_HELP, 1);
  const study = loadStudyFile(positionals[0]!, values['base-dir'] as string | undefined);
  const backend = backendOption(values.backend);
  if (backend) for (const r of study.runs) r.config.backend = backend;
  const outDir = path.resolve((values.out as string | undefined) ?? path.join('studies', study.name));
  if (values['dry-run']) {
    process.stdout.write(`${study.runs.length} runs into ${outDir}:\n${study.runs.map((r) => `  ${r.id}`).join('\n')}\n`);
    return;
  }
  if (values.report) {
    const report = writeReport(study, outDir);
    process.stdout.write(`${report.files.map((f) => path.join(outDir, f)).join('\n')}\n`);
    return;
  }
  await initBackend({ backend: study.runs[0]?.config.backend });
  const control = new StudyControl();
  const detach = attachControl(control, values.control as string | undefined, 'stopping the study after this step (a checkpoint is written; run it again to resume)');
  const view = new StudyView(Boolean(values.json));
  let result;
  try {
    result = await runStudy(study, { outDir, control, onEvent: (e) => view.onEvent(e) });
  } finally {
    detach();
  }
  process.stderr.write(`report: ${path.join(outDir, 'report.md')}\n`);
  if (result.status === 'stopped' && control.stopped) {
    await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
    process.exit(130);
  }
  if (result.counts.failed > 0) process.exitCode = 1;
}

/** One line per run on stderr (a step line every few seconds), or every event as JSON on stdout. */
class StudyView {
  private lastLine = 0;
  private total = 0;
  constructor(private readonly json: boolean) {}

  onEvent(e: StudyEvent): void {
    if (this.json) {
      process.stdout.write(JSON.stringify(e) + '\n');
      return;
    }
    const out = process.stderr;
    switch (e.type) {
      case 'study-started':
        out.write(`study: ${e.runs} runs (${e.done} already finished) in ${e.outDir}\n`);
        break;
      case 'run-started':
        out.write(`[${e.index + 1}/${e.runs}] ${e.id}${e.resume ? ' (resuming from its checkpoint)' : ''}\n`);
        break;
      case 'run-event': {
        const ev = e.event;
        if (ev.type === 'started') this.total = ev.totalSteps;
        if (ev.type === 'step' && (Date.now() - this.lastLine > 10000 || ev.step === this.total)) {
          this.lastLine = Date.now();
          out.write(`  step ${ev.step}/${this.total}  loss ${ev.loss.toFixed(4)}\n`);
        }
        if (ev.type === 'eval') out.write(`  eval at step ${ev.step}: ${Object.entries(ev.metrics).slice(0, 3).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}\n`);
        break;
      }
      case 'run-skipped':
        break;
      case 'run-ended':
        out.write(`  ${e.status} in ${e.seconds.toFixed(1)} s${e.reason && e.status !== 'finished' ? `: ${e.reason.split('\n')[0]}` : ''}\n`);
        break;
      case 'study-ended':
        out.write(`study ${e.status}: ${Object.entries(e.counts).filter(([, v]) => v).map(([k, v]) => `${v} ${k}`).join(', ')}\n`);
        break;
    }
  }
}
