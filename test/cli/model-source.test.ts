/**
 * A trained run as a model argument, for every method: `predict RUN` (its best checkpoint), `predict
 * CHECKPOINT`, `eval --model RUN` and `train --model RUN|CHECKPOINT`, which starts from the run's trained
 * model (merged) with its labels. Numbers are checked against the run's trained model loaded in-process.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { currentBackend, initBackend } from '../../engine/backend/select';
import { predict } from '../../engine/api/model-handle';
import { resolveModelSource } from '../../engine/api/resolve-model-source';
import type { EncoderModel } from '../../engine/model/model';
import { methodFactory, peftMethodNames } from '../../engine/peft/registry';
import { listCheckpoints } from '../../engine/train/checkpoint';
import { resolveRunConfig } from '../../engine/train/config';
import { loadRunBaseModel, loadTrainedModel, readRunInfo } from '../../engine/train/export';
import { train } from '../../engine/train/trainer';
import { loadTokenizer } from '../../engine/tokenizer';
import { removeModelDirs } from '../helpers/make-model';
import { makeRows, makeTinyModel, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';
import { runCli, type CliRun } from '../helpers/cli';

const TEXT = 'the movie is very good';

const cli = (...args: string[]): Promise<CliRun> => runCli(args);

async function logitsOf(model: EncoderModel, modelDir: string): Promise<number[]> {
  const tokenizer = await loadTokenizer(modelDir);
  const [p] = await predict({ dir: modelDir, model, tokenizer, backend: currentBackend()!, notices: [] }, [{ text: TEXT }]);
  return p!.logits;
}

function close(a: number[], b: number[], tol = 1e-5): void {
  assert.equal(a.length, b.length);
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]!) <= tol, `logit ${i}: ${x} vs ${b[i]}`));
}

let modelDir = '';
let trainFile = '';
const runOf = new Map<string, string>();

before(async () => {
  await initBackend({ backend: 'cpu', reinit: true });
  modelDir = makeTinyModel({ arch: 'BertForMaskedLM' }).dir;
  const dir = tempDir('peft-model-source-');
  trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(64), ['negative', 'positive']);
  for (const method of peftMethodNames()) {
    const r = await train(
      resolveRunConfig({
        model: modelDir, train_file: trainFile, output_dir: path.join(dir, method), method, learning_rate: 1e-2,
        max_steps: 8, per_device_train_batch_size: 16, max_length: 32, eval_split: 0.25, eval_strategy: 'steps', eval_steps: 4, save_steps: 4, save_total_limit: 0, backend: 'cpu',
      }),
    );
    assert.equal(r.status, 'finished', r.reason);
    runOf.set(method, r.runDir);
  }
});

after(() => {
  removeModelDirs();
  removeTempDirs();
});

describe('a run or a checkpoint as the model', () => {
  it('resolves a run folder to its best checkpoint and a checkpoint folder to itself', () => {
    const run = runOf.get('bitfit')!;
    const info = readRunInfo(run);
    assert.deepEqual(resolveModelSource(run), { kind: 'run', runDir: run, checkpoint: info.defaultCheckpoint, chosen: 'best' });
    const first = listCheckpoints(run)[0]!;
    assert.deepEqual(resolveModelSource(first), { kind: 'run', runDir: run, checkpoint: first, chosen: 'given' });
    assert.deepEqual(resolveModelSource(modelDir), { kind: 'model', dir: modelDir });
  });

  for (const method of peftMethodNames()) {
    it(`${method}: predict RUN uses the best checkpoint, predict CHECKPOINT that one, and each says which`, async () => {
      const run = runOf.get(method)!;
      const info = readRunInfo(run);
      const first = listCheckpoints(run).find((c) => c !== info.defaultCheckpoint)!;
      assert.ok(first, 'the run keeps a checkpoint besides its best');
      const [r1, r2] = await Promise.all([cli('predict', run, '--text', TEXT, '--json', '--backend', 'cpu'), cli('predict', first, '--text', TEXT, '--json', '--backend', 'cpu')]);
      assert.equal(r1.code, 0, r1.stderr);
      assert.equal(r2.code, 0, r2.stderr);
      assert.match(r1.stderr, new RegExp(`checkpoint ${path.basename(info.defaultCheckpoint)} \\(its best`));
      assert.match(r2.stderr, new RegExp(`checkpoint ${path.basename(first)} \\(as given`));
      const best = loadTrainedModel(run);
      const early = loadTrainedModel(run, first);
      close(JSON.parse(r1.stdout).logits, await logitsOf(best.model, modelDir));
      close(JSON.parse(r2.stdout).logits, await logitsOf(early.model, modelDir));
      assert.ok(['negative', 'positive'].includes(JSON.parse(r1.stdout).label), 'the run\'s label names');
      best.model.dispose();
      early.model.dispose();
    });
  }

  it('eval --model RUN is eval --run RUN', async () => {
    const run = runOf.get('lora')!;
    const [a, b] = await Promise.all([cli('eval', '--model', run, '--data', trainFile, '--json', '--backend', 'cpu'), cli('eval', '--run', run, '--data', trainFile, '--json', '--backend', 'cpu')]);
    assert.equal(a.code, 0, a.stderr);
    assert.deepEqual(JSON.parse(a.stdout).metrics, JSON.parse(b.stdout).metrics);
    assert.match(a.stderr, /evaluating run .*checkpoint step-\d+ \(its best/);
  });

  for (const method of peftMethodNames().filter((m) => methodFactory(m).info.merge === true)) {
    it(`train --model RUN (a ${method} run) starts from that run's trained model, with its labels`, async () => {
      const from = runOf.get(method)!;
      const out = path.join(tempDir('peft-continue-'), 'run');
      const config = resolveRunConfig({ model: from, train_file: trainFile, output_dir: out, max_steps: 2, eval_split: 0.25, backend: 'cpu' });
      assert.equal(config.model, modelDir, 'the base model stays the HF folder (tokenizer, architecture)');
      assert.equal(config.init_checkpoint, readRunInfo(from).defaultCheckpoint);
      const r = await train(config);
      assert.equal(r.status, 'finished', r.reason);
      const info = readRunInfo(r.runDir);
      assert.ok(info.started.notices.some((n) => /starting from the trained model of run .*\(its best/.test(n)), info.started.notices.join('\n'));
      assert.ok(!info.started.notices.some((n) => /initialised fresh/.test(n)), 'nothing is fresh: the head comes from the earlier run');
      assert.deepEqual(info.started.data.id2label, { 0: 'negative', 1: 'positive' });
      // The new run's base model is the earlier run's trained model (merged: LoRA's W + s·BA rounds differently).
      const start = loadRunBaseModel(info);
      const trained = loadTrainedModel(from);
      close(await logitsOf(start.model, modelDir), await logitsOf(trained.model, modelDir), 1e-6);
      start.model.dispose();
      trained.model.dispose();
    });
  }

  for (const method of peftMethodNames().filter((m) => methodFactory(m).info.merge !== true)) {
    it(`train --model RUN (a ${method} run, not mergeable) is refused before any run folder, saying what to do instead`, () => {
      assert.throws(() => resolveRunConfig({ model: runOf.get(method)!, train_file: trainFile }), /not plain weights to start from: .*resume_from_checkpoint.*export --adapter/);
    });
  }

  it('train --model CHECKPOINT starts from that checkpoint', () => {
    const first = listCheckpoints(runOf.get('bitfit')!)[0]!;
    const config = resolveRunConfig({ model: first, train_file: trainFile });
    assert.equal(config.init_checkpoint, first);
    assert.equal(config.model, modelDir);
  });

  it('a checkpoint copied out of its run folder is refused, saying why', () => {
    const lone = path.join(tempDir('peft-lone-'), 'step-00000004');
    fs.cpSync(listCheckpoints(runOf.get('bitfit')!)[0]!, lone, { recursive: true });
    assert.throws(() => resolveModelSource(lone), /outside its run folder/);
  });
});
