/**
 * The study runner end to end on a generated tiny BERT: runs go through the real trainer into ordinary run
 * folders; a failing run is recorded and the rest go on; running the study again does not redo finished
 * runs and resumes a stopped one exactly; the report and results.csv are computed from the run folders.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../engine/backend/select';
import { readSafetensors } from '../../engine/io/safetensors';
import { expandStudy, validateStudyConfig, type Study } from '../../engine/study/config';
import { runState, runStudy, StudyControl, type StudyEvent } from '../../engine/study/runner';
import { scratchModel } from '../../engine/study/random-init';
import type { StudyReportModel } from '../../engine/study/report-model';
import { lineChart } from '../../engine/study/svg';
import { trainSubset } from '../../engine/study/subset';
import { readEvents } from '../../engine/train/run-dir';
import { resolveRunConfig } from '../../engine/train/config';
import { removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { makeRows, makeTinyModel, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

let gen: GeneratedModel;
let dir: string;
before(async () => {
  await initBackend();
  gen = makeTinyModel({ seed: 5, dropout: false });
  dir = tempDir('peft-study-');
  writeTsv(path.join(dir, 'train.tsv'), makeRows(60, 3));
  writeTsv(path.join(dir, 'dev.tsv'), makeRows(16, 9));
});
after(() => {
  removeModelDirs();
  removeTempDirs();
});

function makeStudy(axes: Record<string, unknown[]>, extra: Record<string, unknown> = {}): Study {
  const base = { model: gen.dir, train_file: 'train.tsv', eval_file: 'dev.tsv', max_steps: 4, per_device_train_batch_size: 8, eval_strategy: 'steps', eval_steps: 4, save_steps: 0, bias_change_steps: 2, train_rows: 40, ...extra };
  return expandStudy(validateStudyConfig({ name: 'tiny', base, axes }), dir);
}

const lossesOf = (runDir: string) => readEvents(runDir).events.filter((e) => e.type === 'step').map((e) => (e as { loss: number }).loss);

describe('study runner', () => {
  const AXES = { method: ['bitfit', { name: 'bitfit', bias_terms: ['*.nomatch.bias'], label: 'broken' }, { name: 'lora', r: 2, label: 'lora-r2' }], seed: [0, 1] };
  let out: string;
  let events: StudyEvent[];
  let study: Study;

  before(async () => {
    study = makeStudy(AXES);
    out = path.join(dir, 'study-a');
    events = [];
    await runStudy(study, { outDir: out, onEvent: (e) => events.push(e) });
  });

  it('runs every run into an ordinary run folder; one failing run does not stop the rest', () => {
    const ended = events.filter((e): e is Extract<StudyEvent, { type: 'run-ended' }> => e.type === 'run-ended');
    assert.equal(ended.length, 6);
    for (const e of ended) assert.equal(e.status, e.id.includes('broken') ? 'failed' : 'finished', `${e.id}: ${e.reason}`);
    const broken = ended.find((e) => e.id.includes('broken'))!;
    assert.match(broken.reason!, /matches no parameter/);
    for (const r of study.runs) {
      const runDir = path.join(out, 'runs', r.id);
      assert.equal(runState(runDir), r.id.includes('broken') ? 'failed' : 'finished');
      if (!r.id.includes('broken')) assert.ok(fs.existsSync(path.join(runDir, 'config.json')));
    }
    const end = events.at(-1) as Extract<StudyEvent, { type: 'study-ended' }>;
    assert.equal(end.type, 'study-ended');
    assert.equal(end.status, 'stopped'); // not every run finished
    assert.deepEqual(end.counts, { pending: 0, finished: 4, stopped: 0, failed: 2, interrupted: 0 });
  });

  it('trains each run on its train_rows subset (written into the study folder)', () => {
    const cfg = JSON.parse(fs.readFileSync(path.join(out, 'runs', study.runs[0]!.id, 'config.json'), 'utf8')) as { train_file: string };
    assert.equal(path.dirname(cfg.train_file), path.join(out, 'data'));
    const started = readEvents(path.join(out, 'runs', study.runs[0]!.id)).events.find((e) => e.type === 'started') as { data: { train: number } };
    assert.equal(started.data.train, 40);
  });

  it('writes results.csv (one row per run, a column per axis, then the numbers) from the run folders', () => {
    const lines = fs.readFileSync(path.join(out, 'results.csv'), 'utf8').trim().split('\n');
    const header = lines[0]!.split(',');
    assert.deepEqual(header.slice(0, 4), ['method', 'seed', 'run', 'status']);
    assert.equal(lines.length, 1 + study.runs.length);
    const col = (name: string) => header.indexOf(name);
    for (const [i, run] of study.runs.entries()) {
      const cells = lines[i + 1]!.split(',');
      assert.equal(cells[0], String(run.axes.method));
      assert.equal(cells[1], String(run.axes.seed));
      const runDir = path.join(out, 'runs', run.id);
      const end = readEvents(runDir).events.at(-1) as { type: string; finalMetrics?: Record<string, number> };
      assert.equal(cells[col('status')], end.type);
      if (end.type === 'finished') {
        assert.equal(Number(cells[col('accuracy')]), end.finalMetrics!.accuracy);
        const started = readEvents(runDir).events.find((e) => e.type === 'started') as { trainable: { count: number } };
        assert.equal(Number(cells[col('trainable_params')]), started.trainable.count);
        const ck = fs.readdirSync(path.join(runDir, 'checkpoints')).filter((d) => d.startsWith('step-')).sort().pop()!;
        assert.equal(Number(cells[col('export_bytes')]), fs.statSync(path.join(runDir, 'checkpoints', ck, 'trainable.safetensors')).size);
        assert.ok(Number(cells[col('step_seconds')]) > 0);
      }
    }
  });

  it('report.md: per method mean ± std over seeds, sorted, best underlined, failures listed; charts written', () => {
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    const acc = (m: string) => study.runs.filter((r) => r.axes.method === m).map((r) => (readEvents(path.join(out, 'runs', r.id)).events.at(-1) as unknown as { finalMetrics: { accuracy: number } }).finalMetrics.accuracy);
    const rows = md.split('\n').filter((l) => /^\| (bitfit|lora-r2|broken) \|/.test(l));
    assert.equal(rows.length, 3);
    const means = Object.fromEntries(['bitfit', 'lora-r2'].map((m) => [m, acc(m).reduce((a, b) => a + b, 0) / 2]));
    const order = Object.entries(means).sort((a, b) => b[1] - a[1]).map(([m]) => m);
    assert.deepEqual(rows.slice(0, 2).map((l) => l.split('|')[1]!.trim()), order);
    assert.match(rows[0]!, new RegExp(`<u>${means[order[0]!]!.toFixed(4)} ± `));
    assert.match(rows[2]!, /\| broken \| — \| 0\/2 \|/);
    assert.match(md, /## Runs not finished[\s\S]*method-broken__seed-0`: failed — .*matches no parameter/);
    assert.match(md, /## What moved/);
    assert.match(md, /per-run overhead .* = [\d.]+% of the training time/);
    for (const f of ['metric-vs-params.svg', 'what-moved.svg']) {
      const svg = fs.readFileSync(path.join(out, f), 'utf8');
      assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      assert.ok(svg.trimEnd().endsWith('</svg>'));
    }
    const scatter = fs.readFileSync(path.join(out, 'metric-vs-params.svg'), 'utf8');
    assert.equal((scatter.match(/<circle [^>]*><title>/g) ?? []).length, 2, 'one point per finished method');
    assert.match(fs.readFileSync(path.join(out, 'what-moved.svg'), 'utf8'), /lora-r2/);
  });

  it('report.json: the same rows, order, marks, chart series and grids as report.md and the SVGs', () => {
    const model = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as StudyReportModel;
    const md = fs.readFileSync(path.join(out, 'report.md'), 'utf8');
    const mdRows = md.split('\n').filter((l) => /^\| (bitfit|lora-r2|broken) \|/.test(l));
    assert.equal(model.v, 1);
    assert.equal(model.metric, 'accuracy');
    assert.deepEqual(model.axes, ['method', 'seed']);
    assert.deepEqual(model.rows.map((r) => r.axes.method), mdRows.map((l) => l.split('|')[1]!.trim()));
    assert.deepEqual(model.rows.map((r) => Boolean(r.best)), mdRows.map((l) => l.includes('<u>')));
    for (const [i, r] of model.rows.entries()) {
      assert.equal(`${r.n}/${r.runs}`, mdRows[i]!.split('|')[3]!.trim());
      if (r.mean !== undefined) assert.ok(mdRows[i]!.includes(r.mean.toFixed(4)), `${mdRows[i]} shows ${r.mean}`);
    }
    assert.deepEqual(model.counts, { finished: 4, failed: 2 });
    assert.deepEqual(model.notFinished.map((r) => r.status), ['failed', 'failed']);
    assert.deepEqual(model.charts.map((c) => c.file), ['metric-vs-params.svg']);
    const chart = model.charts[0]!;
    assert.equal(fs.readFileSync(path.join(out, chart.file), 'utf8'), lineChart(chart.series, chart), 'the SVG is drawn from exactly these series');
    assert.deepEqual(chart.series.map((s) => s.name).sort(), ['bitfit', 'lora-r2']);
    assert.deepEqual(model.grids.map((g) => g.title).sort(), ['bitfit', 'lora-r2']);
    for (const g of model.grids) assert.ok(g.values.every((row) => row.length === g.columns.length), g.title);
  });

  it('running it again redoes no finished run (the failed ones run again)', async () => {
    const before = new Map(study.runs.map((r) => [r.id, fs.readFileSync(path.join(out, 'runs', r.id, 'events.jsonl'), 'utf8')]));
    const again: StudyEvent[] = [];
    await runStudy(makeStudy(AXES), { outDir: out, onEvent: (e) => again.push(e) });
    const started = again.filter((e) => e.type === 'run-started').map((e) => (e as { id: string }).id);
    assert.deepEqual(started, study.runs.filter((r) => r.id.includes('broken')).map((r) => r.id));
    for (const r of study.runs) if (!r.id.includes('broken')) assert.equal(fs.readFileSync(path.join(out, 'runs', r.id, 'events.jsonl'), 'utf8'), before.get(r.id));
  });

  it('stops at a step boundary with a checkpoint, and resumes exactly where it stopped', async () => {
    const s = makeStudy({ method: ['bitfit', { name: 'lora', r: 2, label: 'lora-r2' }], seed: [0, 1] });
    const outB = path.join(dir, 'study-b');
    const control = new StudyControl();
    const first: StudyEvent[] = [];
    const r1 = await runStudy(s, {
      outDir: outB,
      control,
      onEvent: (e) => {
        first.push(e);
        if (e.type === 'run-event' && e.id === s.runs[1]!.id && e.event.type === 'step' && e.event.step === 2) control.send('stop', 'test stop');
      },
    });
    assert.equal(r1.status, 'stopped');
    assert.deepEqual(r1.counts, { pending: 2, finished: 1, stopped: 1, failed: 0, interrupted: 0 });
    const stoppedDir = path.join(outB, 'runs', s.runs[1]!.id);
    assert.equal(lossesOf(stoppedDir).length, 2);
    const second: StudyEvent[] = [];
    const r2 = await runStudy(s, { outDir: outB, onEvent: (e) => second.push(e) });
    assert.equal(r2.status, 'finished');
    const starts = second.filter((e): e is Extract<StudyEvent, { type: 'run-started' }> => e.type === 'run-started');
    assert.deepEqual(starts.map((e) => [e.id, e.resume]), [[s.runs[1]!.id, true], [s.runs[2]!.id, false], [s.runs[3]!.id, false]]);
    const resumed = readEvents(stoppedDir).events.filter((e) => e.type === 'started') as Array<{ resumedFrom?: { step: number } }>;
    assert.equal(resumed.at(-1)!.resumedFrom?.step, 2);
    // The same run in study-a ran without a stop: same data, same seed, so the same losses.
    assert.deepEqual(lossesOf(stoppedDir), lossesOf(path.join(out, 'runs', s.runs[1]!.id)));
  });
});

describe('study data and model substitutions', () => {
  it('train_rows: N rows of the file after a seeded shuffle, header kept, rows copied verbatim, nested sizes', async () => {
    const config = resolveRunConfig({ model: gen.dir, train_file: path.join(dir, 'train.tsv') });
    const src = fs.readFileSync(path.join(dir, 'train.tsv'), 'utf8').trim().split('\n');
    const a = await trainSubset(config, 10, 3, path.join(dir, 'sub'));
    const b = await trainSubset(config, 20, 3, path.join(dir, 'sub'));
    const c = await trainSubset(config, 10, 4, path.join(dir, 'sub'));
    const lines = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n');
    assert.equal(lines(a.file)[0], src[0]);
    assert.equal(lines(a.file).length, 11);
    const rowsA = lines(a.file).slice(1);
    assert.ok(rowsA.every((l) => src.includes(l)));
    assert.ok(rowsA.every((l) => lines(b.file).includes(l)), 'the 10-row subset is part of the 20-row one');
    assert.notDeepEqual(lines(c.file), lines(a.file));
    const whole = await trainSubset(config, 1000, 3, path.join(dir, 'sub'));
    assert.equal(whole.file, config.train_file);
    assert.equal(whole.whole, true);
  });

  it('init_from_scratch: a copy of the model folder with HF-style random weights, seeded', () => {
    const a = scratchModel(gen.dir, 1, path.join(dir, 'models'));
    const b = scratchModel(gen.dir, 2, path.join(dir, 'models'));
    assert.ok(fs.existsSync(path.join(a, 'config.json')) && fs.existsSync(path.join(a, 'vocab.txt')));
    const ta = readSafetensors(path.join(a, 'model.safetensors')).tensors;
    const tb = readSafetensors(path.join(b, 'model.safetensors')).tensors;
    assert.deepEqual([...ta.keys()].sort(), [...gen.tensors.keys()].sort());
    for (const [name, t] of ta) {
      assert.deepEqual(t.shape, gen.tensors.get(name)!.shape);
      const d = t.data as Float32Array;
      if (/LayerNorm\.weight$/.test(name)) assert.ok(d.every((x) => x === 1), name);
      else if (name.endsWith('.bias')) assert.ok(d.every((x) => x === 0), name);
      else if (d.length > 100) {
        const mean = d.reduce((s, x) => s + x, 0) / d.length;
        const std = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / d.length);
        assert.ok(Math.abs(std - 0.02) < 0.004, `${name}: std ${std}`);
        assert.notDeepEqual(d, tb.get(name)!.data);
      }
    }
    assert.equal(scratchModel(gen.dir, 1, path.join(dir, 'models')), a);
  });
});
