/**
 * BitFit end to end on generated BERT, DistilBERT and RoBERTa checkpoints, one row per selection variant
 * (in the spirit of HF PEFT's test_custom_models): the trainable set and its size are recomputed here from
 * the checkpoint's own tensor names and shapes; after a few AdamW steps every frozen tensor is bit-identical,
 * every trained tensor moved, the loss fell, and gradients and optimizer state exist only for trained tensors.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tf } from '../../engine/backend/tf';
import { initBackend } from '../../engine/backend/select';
import { PeftStudioError } from '../../engine/errors';
import { readSafetensors } from '../../engine/io/safetensors';
import { loadModel } from '../../engine/model/load';
import { BitFit } from '../../engine/peft/bitfit';
import { createPeftMethod } from '../../engine/peft/registry';
import type { RunEvent, StartedEvent } from '../../engine/protocol/events';
import { listCheckpoints } from '../../engine/train/checkpoint';
import { resolveRunConfig } from '../../engine/train/config';
import { AdamW } from '../../engine/train/optim/adamw';
import { computeGradients } from '../../engine/train/step';
import { train } from '../../engine/train/trainer';
import { makeModelDir, randomBatch, removeModelDirs, type GeneratedModel, type ModelFamily } from '../helpers/make-model';
import { makeRows, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

after(() => {
  removeModelDirs();
  removeTempDirs();
});
before(async () => {
  await initBackend();
});

// Independent of engine/model/biases.ts: HF module names, written out per family.
const HEAD = /^(classifier|pre_classifier)\./;
const QUERY = /\.(attention\.self\.query|attention\.q_lin)\.bias$/;
const VALUE = /\.(attention\.self\.value|attention\.v_lin)\.bias$/;
const INTERMEDIATE = /\.(intermediate\.dense|ffn\.lin1)\.bias$/;
const NORM_BIAS = /(LayerNorm|layer_norm)\.bias$/;
const isEncoderBias = (n: string) => n.endsWith('.bias') && !HEAD.test(n);

interface Variant {
  name: string;
  terms: string[];
  trainHead: boolean;
  /** Which encoder tensors the variant selects (the head is added when trainHead). */
  picks: (name: string) => boolean;
}

const VARIANTS: Variant[] = [
  { name: 'all + head', terms: ['all'], trainHead: true, picks: isEncoderBias },
  { name: 'all, no head', terms: ['all'], trainHead: false, picks: isEncoderBias },
  { name: 'sparse (q + m2) + head', terms: ['sparse'], trainHead: true, picks: (n) => QUERY.test(n) || INTERMEDIATE.test(n) },
  { name: 'query only', terms: ['query'], trainHead: false, picks: (n) => QUERY.test(n) },
  { name: 'aliases q,v', terms: ['q', 'v'], trainHead: false, picks: (n) => QUERY.test(n) || VALUE.test(n) },
  { name: 'glob on layer 1', terms: ['*.layer.1.*.bias'], trainHead: false, picks: (n) => /\.layer\.1\./.test(n) && n.endsWith('.bias') },
  { name: '/regex/ on norms + head', terms: ['/(LayerNorm|layer_norm)\\.bias$/'], trainHead: true, picks: (n) => NORM_BIAS.test(n) },
];

const FAMILIES: ModelFamily[] = ['bert', 'distilbert', 'roberta'];

/** Special ids and the first ordinary id of each family's generated tokenizer. */
const IDS: Record<ModelFamily, { pad: number; cls: number; sep: number; first: number }> = {
  bert: { pad: 0, cls: 2, sep: 3, first: 5 },
  distilbert: { pad: 0, cls: 2, sep: 3, first: 5 },
  roberta: { pad: 1, cls: 0, sep: 2, first: 4 },
};

function expectedSet(gen: GeneratedModel, v: Variant): string[] {
  return [...gen.tensors.keys()].filter((n) => v.picks(n) || (v.trainHead && HEAD.test(n))).sort();
}

function sizeOf(gen: GeneratedModel, names: string[]): number {
  return names.reduce((a, n) => a + gen.tensors.get(n)!.shape.reduce((x, y) => x * y, 1), 0);
}

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

for (const family of FAMILIES) {
  describe(`BitFit on ${family}`, () => {
    let gen: GeneratedModel;
    before(() => {
      gen = makeModelDir({ family, layers: 2, hidden: 32, heads: 4, intermediate: 64, seed: 3 });
    });

    for (const v of VARIANTS) {
      it(`${v.name}: selection, counts, frozen tensors untouched, trained ones moved, loss falls`, async () => {
        const { model } = loadModel(gen.dir);
        const method = new BitFit({ biasTerms: v.terms, trainHead: v.trainHead });
        method.apply(model);
        const vars = method.trainable();
        const want = expectedSet(gen, v);
        assert.ok(want.length > 0, 'variant selects nothing on this family: the table is wrong');
        assert.deepEqual([...vars.keys()].sort(), want);

        const d = method.describe();
        assert.equal(d.trainable, sizeOf(gen, want));
        assert.equal(d.total, sizeOf(gen, [...gen.tensors.keys()]));
        assert.equal(d.tensors.reduce((a, t) => a + t.size, 0), d.trainable);
        assert.ok(Math.abs(d.percent - (100 * d.trainable) / d.total) < 1e-9);

        // Frozen tensors stay plain tensors, not trainable variables: autodiff cannot reach them.
        const before = new Map<string, Float32Array>();
        for (const [name, t] of model.params.entries()) {
          before.set(name, ((await t.data()) as Float32Array).slice());
          const trainable = t instanceof tf.Variable && t.trainable;
          assert.equal(trainable, vars.has(name), `${name}: trainable=${trainable}`);
        }
        assert.deepEqual([...before.keys()].sort(), [...gen.tensors.keys()].sort(), 'ParamStore holds other tensors than the checkpoint');

        const ids = IDS[family];
        const rb = randomBatch(11, 4, 8, gen.config.vocab_size, ids.pad, { cls: ids.cls, sep: ids.sep, firstId: ids.first });
        const batch = {
          inputs: {
            inputIds: tf.tensor2d(rb.input_ids, undefined, 'int32'),
            attentionMask: tf.tensor2d(rb.attention_mask, undefined, 'int32'),
            tokenTypeIds: tf.tensor2d(rb.token_type_ids, undefined, 'int32'),
          },
          labels: tf.tensor1d([0, 1, 1, 0], 'int32'),
          tokens: 0,
          size: 4,
        };
        const optimizer = new AdamW(vars, { lr: 1e-2, weightDecay: 0 });
        const losses: number[] = [];
        for (let k = 0; k <= 6; k++) {
          const { loss, grads } = await computeGradients(model, [batch], 'single_label_classification', vars, { training: false, seed: 0 });
          losses.push(loss);
          assert.deepEqual([...grads.keys()].sort(), want, 'gradients computed for other tensors than the trainable ones');
          if (k < 6) optimizer.step(grads, 1e-2);
          tf.dispose([...grads.values()]);
        }
        // A frozen model would give exactly the same loss; a small selection (query only) moves it ~2e-3.
        assert.ok(losses[6]! < losses[0]! - 5e-4, `loss did not fall: ${losses.join(' → ')}`);

        const state = await optimizer.stateDict();
        assert.equal(state.step, 6);
        assert.deepEqual(Object.keys(state.m).sort(), want);
        assert.deepEqual(Object.keys(state.v).sort(), want);

        for (const [name, t] of model.params.entries()) {
          const now = (await t.data()) as Float32Array;
          const same = bytes(now).equals(bytes(before.get(name)!));
          if (vars.has(name)) assert.ok(!same, `trainable ${name} did not change`);
          else assert.ok(same, `frozen ${name} changed`);
        }
        optimizer.dispose();
        model.dispose();
        tf.dispose([batch.inputs.inputIds, batch.inputs.attentionMask, batch.inputs.tokenTypeIds, batch.labels]);
      });
    }

    it('rejects an unknown bias term, a term that matches nothing and a broken /regex/ with BAD_INPUT', () => {
      const empty = family === 'bert' ? '*.layer.7.*' : 'pooler'; // 2 layers; no pooler in DistilBERT or a RoBERTa classifier
      for (const terms of [['qkv'], ['all', 'nonsense'], [empty], ['/no_such_parameter/'], ['/(/']]) {
        const { model } = loadModel(gen.dir);
        try {
          assert.throws(
            () => new BitFit({ biasTerms: terms, trainHead: true }).apply(model),
            (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT' && e.message.includes(terms.at(-1)!.replace(/^\/|\/$/g, '')),
            `terms ${JSON.stringify(terms)}`,
          );
        } finally {
          model.dispose();
        }
      }
    });
  });
}

describe('BitFit through the trainer', () => {
  let gen: GeneratedModel;
  let trainFile: string;
  let dir: string;
  before(() => {
    gen = makeModelDir({ family: 'bert', layers: 2, hidden: 32, heads: 4, intermediate: 64, seed: 5 });
    dir = tempDir();
    trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(16));
  });

  for (const v of [VARIANTS[1]!, VARIANTS[2]!, VARIANTS[5]!]) {
    it(`bias_terms ${JSON.stringify(v.terms)}, train_head ${v.trainHead}: the run trains exactly that set`, async () => {
      const events: RunEvent[] = [];
      const out = path.join(dir, `run-${v.name.replace(/\W+/g, '_')}`);
      const result = await train(
        resolveRunConfig({
          model: gen.dir, train_file: trainFile, output_dir: out, bias_terms: v.terms, train_head: v.trainHead,
          max_steps: 2, per_device_train_batch_size: 4, eval_split: 0, learning_rate: 1e-2,
        }),
        { onEvent: (e) => events.push(e) },
      );
      assert.equal(result.status, 'finished', result.reason);
      const want = expectedSet(gen, v);
      const started = events[0] as StartedEvent;
      assert.equal(started.type, 'started');
      assert.deepEqual(started.trainable.tensors.map((t) => t.name).sort(), want);
      assert.equal(started.trainable.count, sizeOf(gen, want));
      const final = listCheckpoints(out).at(-1)!;
      const saved = readSafetensors(path.join(final, 'trainable.safetensors')).tensors;
      assert.deepEqual([...saved.keys()].sort(), want);
      const opt = readSafetensors(path.join(final, 'optimizer.safetensors')).tensors;
      assert.deepEqual([...opt.keys()].sort(), want.flatMap((n) => [`exp_avg.${n}`, `exp_avg_sq.${n}`]).sort());
      for (const n of want) assert.ok(!bytes(saved.get(n)!.data as Float32Array).equals(bytes(gen.tensors.get(n)!.data)), `${n} was not trained`);
    });
  }

  it('an unknown bias term fails with BAD_INPUT before a run folder exists', async () => {
    const out = path.join(dir, 'never');
    await assert.rejects(
      train(resolveRunConfig({ model: gen.dir, train_file: trainFile, output_dir: out, bias_terms: ['bogus'], max_steps: 1, eval_split: 0 })),
      (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_INPUT' && /bogus/.test(e.message),
    );
    assert.equal(fs.existsSync(out), false);
  });

  it('createPeftMethod takes the BitFit config by its own keys', () => {
    const m = createPeftMethod('bitfit', { biasTerms: ['query'], trainHead: false });
    const { model } = loadModel(gen.dir);
    m.apply(model);
    assert.deepEqual([...m.trainable().keys()].sort(), expectedSet(gen, VARIANTS[3]!));
    model.dispose();
  });
});
