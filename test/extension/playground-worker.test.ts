/**
 * The playground's predict worker (engine/worker/predict.ts) in a real child process, driven through the
 * host's PredictClient, on short real runs of a generated model. Its numbers are checked against the real
 * CLI: the trained model against `predict --json` on the run's merged export, the base model against
 * `predict --json` on the base folder. Batch mode is checked for its file (header, rows, probabilities),
 * for never replacing the input, and for naming bad rows by file and line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../engine/backend/select';
import { listCheckpoints } from '../../engine/train/checkpoint';
import { resolveRunConfig } from '../../engine/train/config';
import { train } from '../../engine/train/trainer';
import { PredictClient, PredictError, type PredictWorkerHandle } from '../../extension/src/playground/predictClient';
import { removeModelDirs } from '../helpers/make-model';
import { forkWorker } from '../../extension/src/core/childWorker';
import { makeRows, makeTinyModel, ofType, readEventLines, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin/peft-studio.js');
const WORKER = path.join(ROOT, 'engine/worker/predict.ts');

function spawnSourceWorker(): PredictWorkerHandle {
  return forkWorker(WORKER, { execArgv: ['--import', 'tsx'], env: { ...process.env, PEFT_STUDIO_BACKEND: 'cpu' } });
}

function cliJson(...args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args, '--json', '--backend', 'cpu'], { cwd: ROOT, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`peft-studio ${args.join(' ')} failed: ${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
}

function cli(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8' }, (err, _stdout, stderr) => (err ? reject(new Error(stderr)) : resolve()));
  });
}

function assertClose(actual: number[], expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) <= tol, `${what}[${i}]: ${a} vs ${expected[i]}`));
}

/** Minimal RFC 4180 reader for checking the output (the engine's own reader is not used to judge itself). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(field), (field = '');
    else if (ch === '\n') row.push(field), rows.push(row), (row = []), (field = '');
    else field += ch;
  }
  if (field || row.length) row.push(field), rows.push(row);
  return rows;
}

const model = makeTinyModel({ dropout: false, seed: 3 });
const dir = tempDir('peft-playground-');
const LABELS = ['neg', 'pos'];
const TEXTS = ['a very good film', 'it is bad .', 'the movie and the film , not great']; // the comma exercises CSV quoting
let runDir = '';
let pairRunDir = '';
const client = new PredictClient(spawnSourceWorker);

before(async () => {
  await initBackend({ backend: 'cpu', reinit: true });
  const trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(48), LABELS);
  const r = await train(resolveRunConfig({ model: model.dir, train_file: trainFile, output_dir: path.join(dir, 'run'), max_steps: 8, per_device_train_batch_size: 8, eval_split: 0.25, learning_rate: 0.05, backend: 'cpu' }));
  assert.equal(r.status, 'finished', r.reason);
  runDir = r.runDir;
  const pairs = makeRows(32, 11).map((row, i) => `${row.text}\t${TEXTS[i % 3]}\t${row.label}`);
  const pairFile = path.join(dir, 'pairs.tsv');
  fs.writeFileSync(pairFile, `sentence1\tsentence2\tlabel\n${pairs.join('\n')}\n`);
  const p = await train(resolveRunConfig({ model: model.dir, train_file: pairFile, output_dir: path.join(dir, 'pair-run'), max_steps: 3, per_device_train_batch_size: 8, eval_split: 0, backend: 'cpu' }));
  assert.equal(p.status, 'finished', p.reason);
  pairRunDir = p.runDir;
});

after(() => {
  client.dispose();
  removeModelDirs();
  removeTempDirs();
});

describe('predict worker', () => {
  it('opens a run: labels, task, checkpoint, and whether it is a pair task', async () => {
    const run = await client.open(runDir);
    assert.deepEqual(run.labels, LABELS);
    assert.equal(run.task, 'classification');
    assert.equal(run.pair, false);
    // The best checkpoint, as eval and export pick it, and the step it was saved at.
    const finished = ofType(readEventLines(runDir).events, 'finished')[0]!;
    assert.equal(run.checkpoint, finished.bestCheckpoint);
    assert.equal(path.basename(run.checkpoint), `step-${String(run.step).padStart(8, '0')}`);
    assert.match(run.checkpointNote, new RegExp(`^checkpoint ${path.basename(run.checkpoint)} \\(its best: accuracy \\d\\.\\d{4}\\)$`));
    // A checkpoint folder opens the run at that checkpoint.
    const other = listCheckpoints(runDir).find((c) => c !== run.checkpoint)!;
    const atOther = await client.open(other);
    assert.equal(atOther.checkpoint, other);
    assert.equal(atOther.runDir, runDir);
    assert.match(atOther.checkpointNote, /\(as given/);
    assert.equal(run.backend, 'cpu');
    assert.ok(fs.existsSync(path.join(run.checkpoint, 'trainable.safetensors')));
    assert.equal((await client.open(pairRunDir)).pair, true);
  });

  it('gives the CLI’s labels and probabilities for the trained model (merged export) and the base model', async () => {
    const merged = path.join(dir, 'merged');
    await cli('export', runDir, '--merged', merged);
    for (const text of TEXTS) {
      const [fromWorker, cliTrained, cliBase] = await Promise.all([client.predict(runDir, [{ text }]), cliJson('predict', merged, '--text', text), cliJson('predict', model.dir, '--text', text)]);
      const trained = fromWorker.trained[0]!;
      const base = fromWorker.base[0]!;
      assert.equal(trained.label, cliTrained.label, text);
      assertClose(trained.probabilities!, cliTrained.probabilities, 1e-6, `trained p(${text})`);
      assertClose(trained.logits, cliTrained.logits, 1e-6, `trained logits(${text})`);
      // The base folder's config names its labels LABEL_i; the run names them: compare by class id.
      assertClose(base.probabilities!, cliBase.probabilities, 1e-6, `base p(${text})`);
      assert.equal(LABELS[base.labelId!], base.label);
      assert.equal(`LABEL_${base.labelId}`, cliBase.label);
      assert.ok(fromWorker.ms.trained >= 0 && fromWorker.ms.base >= 0);
    }
  });

  it('training moved the model: trained and base disagree somewhere', async () => {
    const r = await client.predict(runDir, TEXTS.map((text) => ({ text })));
    assert.ok(r.trained.some((p, i) => Math.abs(p.probabilities![1]! - r.base[i]!.probabilities![1]!) > 1e-3));
  });

  it('predicts sentence pairs as the CLI does with --text-pair', async () => {
    const merged = path.join(dir, 'pair-merged');
    await cli('export', pairRunDir, '--merged', merged);
    const [a, b] = [TEXTS[0]!, TEXTS[1]!];
    const [fromWorker, fromCli] = await Promise.all([client.predict(pairRunDir, [{ text: a, textPair: b }]), cliJson('predict', merged, '--text', a, '--text-pair', b)]);
    assertClose(fromWorker.trained[0]!.probabilities!, fromCli.probabilities, 1e-6, 'pair p');
    const single = await client.predict(pairRunDir, [{ text: a }]);
    assert.notDeepEqual(single.trained[0]!.logits, fromWorker.trained[0]!.logits, 'the second text reaches the model');
  });

  it('reports a bad run folder as an error and keeps serving', async () => {
    await assert.rejects(client.open(path.join(dir, 'no-such-run')), (e: PredictError) => e.code === 'MISSING_FILE' && /not a run folder/.test(e.message));
    assert.equal((await client.predict(runDir, [{ text: 'good' }])).trained.length, 1);
  });
});

describe('predict worker: batch mode', () => {
  it('writes <name>.predictions.csv: input columns, predicted label, a probability per class', async () => {
    const input = path.join(dir, 'reviews.csv');
    const texts = Array.from({ length: 40 }, (_, i) => TEXTS[i % 3]! + (i % 2 ? ' good' : ''));
    fs.writeFileSync(input, `id,text,note\n${texts.map((t, i) => `${i},"${t}",n${i}`).join('\n')}\n`);
    const progress: Array<[number, number]> = [];
    const job = client.predictFile(runDir, input, { onProgress: (d, t) => progress.push([d, t]) });
    const result = await job.result;
    const out = path.join(dir, 'reviews.predictions.csv');
    assert.equal(result.out, out);
    assert.equal(result.rows, 40);
    assert.equal(result.cancelled, false);
    const rows = parseCsv(fs.readFileSync(out, 'utf8'));
    assert.deepEqual(rows[0], ['id', 'text', 'note', 'predicted_label', 'p_neg', 'p_pos']);
    assert.equal(rows.length, 41);
    const single = await Promise.all(texts.map((text) => client.predict(runDir, [{ text }])));
    rows.slice(1).forEach((r, i) => {
      assert.deepEqual(r.slice(0, 3), [String(i), texts[i], `n${i}`], 'input cells kept as they were');
      const p = [Number(r[4]), Number(r[5])];
      assert.ok(Math.abs(p[0]! + p[1]! - 1) < 1e-9, `row ${i} sums to 1`);
      assert.equal(r[3], LABELS[p[1]! > p[0]! ? 1 : 0]);
      assertClose(p, single[i]!.trained[0]!.probabilities!, 1e-6, `row ${i} vs one-sentence predict`);
    });
    assert.deepEqual(progress.at(-1), [40, 40]);
    assert.ok(progress.length >= 3, 'progress after each batch of 32');
  });

  it('never writes over the input, even through a link', async () => {
    const input = path.join(dir, 'keep.csv');
    const content = 'text\ngood film\n';
    fs.writeFileSync(input, content);
    await assert.rejects(client.predictFile(runDir, input, { out: input }).result, (e: PredictError) => e.code === 'BAD_INPUT' && /refusing/.test(e.message));
    const link = path.join(dir, 'link.csv');
    fs.symlinkSync(input, link);
    await assert.rejects(client.predictFile(runDir, input, { out: link }).result, (e: PredictError) => e.code === 'BAD_INPUT');
    assert.equal(fs.readFileSync(input, 'utf8'), content);
  });

  it('names bad rows by file and line, writes nothing, and can skip them instead', async () => {
    const tsv = path.join(dir, 'bad.tsv');
    fs.writeFileSync(tsv, 'sentence\tlabel\ngood film\t1\nbad\textra\tcells\n\t0\nfine movie\t1\n');
    await assert.rejects(client.predictFile(runDir, tsv).result, (e: PredictError) => e.code === 'BAD_DATA' && e.message.includes(`${tsv}:3:`) && e.message.includes(`${tsv}:4:`));
    assert.equal(fs.existsSync(path.join(dir, 'bad.predictions.csv')), false);
    const jsonl = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(jsonl, '{"text": "good"}\n{"text": oops}\n');
    await assert.rejects(client.predictFile(runDir, jsonl).result, (e: PredictError) => e.message.includes(`${jsonl}:2: invalid JSON`));
    const skipped = await client.predictFile(runDir, tsv, { onBadRow: 'skip' }).result;
    assert.equal(skipped.rows, 2);
    assert.deepEqual(skipped.skipped.map((b) => b.line), [3, 4]);
    const rows = parseCsv(fs.readFileSync(path.join(dir, 'bad.predictions.csv'), 'utf8'));
    assert.deepEqual(rows.map((r) => r[0]), ['sentence', 'good film', 'fine movie']);
  });

  it('predicts pairs from a file with two text columns', async () => {
    const input = path.join(dir, 'pairs.jsonl');
    fs.writeFileSync(input, [{ sentence1: TEXTS[0], sentence2: TEXTS[1] }, { sentence1: TEXTS[1], sentence2: TEXTS[2] }].map((o) => JSON.stringify(o)).join('\n') + '\n');
    const r = await client.predictFile(pairRunDir, input).result;
    const rows = parseCsv(fs.readFileSync(r.out, 'utf8'));
    const direct = await client.predict(pairRunDir, [{ text: TEXTS[1]!, textPair: TEXTS[2]! }]);
    assert.deepEqual(rows[0]!.slice(0, 2), ['sentence1', 'sentence2']);
    assertClose(rows[2]!.slice(-2).map(Number), direct.trained[0]!.probabilities!, 1e-6, 'pair row');
  });

  it('a cancelled job writes nothing', async () => {
    const input = path.join(dir, 'long.csv');
    fs.writeFileSync(input, `text\n${Array.from({ length: 400 }, (_, i) => TEXTS[i % 2]).join('\n')}\n`);
    const job = client.predictFile(runDir, input);
    job.cancel();
    const r = await job.result;
    assert.equal(r.cancelled, true);
    assert.equal(fs.existsSync(path.join(dir, 'long.predictions.csv')), false);
  });
});

describe('predict client', () => {
  it('fails requests in flight when the worker dies, then starts a new one', async () => {
    let spawned = 0;
    const handles: PredictWorkerHandle[] = [];
    const c = new PredictClient(() => {
      spawned++;
      const h = spawnSourceWorker();
      handles.push(h);
      return h;
    });
    try {
      const pending = c.open(runDir);
      handles[0]!.kill('SIGKILL');
      await assert.rejects(pending, (e: PredictError) => e.code === 'WORKER_CRASH' && /killed/.test(e.message));
      assert.deepEqual((await c.open(runDir)).labels, LABELS);
      assert.equal(spawned, 2);
    } finally {
      c.dispose();
    }
  });
});
