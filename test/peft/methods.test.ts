/**
 * One table, every method (in the spirit of HF PEFT's test_custom_models): each row trains through the real
 * trainer on generated BERT, RoBERTa and DistilBERT checkpoints and must pass the same checks —
 *  - the trainable set's size, recomputed here from the checkpoint's own shapes;
 *  - after training, every tensor the method does not train is bit-identical to the checkpoint's;
 *  - the loss falls on a fixed batch under the method's gradients;
 *  - the what-moved grid's cells sit in the layout the run announced;
 *  - the checkpoint round trip: the run loaded back (loadTrainedModel) gives the trained model's logits;
 *  - the export round trip: `export --adapter` loaded through `--adapter`, or `export --merged` loaded as a
 *    plain model folder, gives the same logits; methods that cannot merge say so.
 * A new method adds a row (and, if it needs one, its own expected count).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadModelWithAdapter } from '../../engine/api/adapter-model';
import { initBackend } from '../../engine/backend/select';
import { tf } from '../../engine/backend/tf';
import { PeftStudioError } from '../../engine/errors';
import { loadModel } from '../../engine/model/load';
import type { EncoderModel } from '../../engine/model/model';
import { methodFactory } from '../../engine/peft/registry';
import type { MethodSpec } from '../../engine/peft/types';
import type { RunEvent, StartedEvent } from '../../engine/protocol/events';
import type { TensorBatch } from '../../engine/train/batches';
import { resolveRunConfig } from '../../engine/train/config';
import { exportAdapter, exportMerged, loadTrainedModel } from '../../engine/train/export';
import { train } from '../../engine/train/trainer';
import { randomBatch, removeModelDirs, type GeneratedModel, type ModelFamily } from '../helpers/make-model';
import { adamCurve, relL2 } from '../helpers/method-fixtures';
import { makeRows, makeTinyModel, ofType, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

after(() => {
  removeModelDirs();
  removeTempDirs();
});
before(async () => {
  await initBackend();
});

const HEAD = /^(classifier|pre_classifier)\./;

/** A fixed random batch for a generated model, with labels. */
function tensorBatch(gen: GeneratedModel, seed: number, B: number, T: number): TensorBatch {
  const r = randomBatch(seed, B, T, gen.config.vocab_size as number, (gen.config.pad_token_id as number | undefined) ?? 0);
  return {
    inputs: {
      inputIds: tf.tensor2d(r.input_ids, undefined, 'int32'),
      attentionMask: tf.tensor2d(r.attention_mask, undefined, 'int32'),
      tokenTypeIds: tf.tensor2d(r.token_type_ids, undefined, 'int32'),
    },
    labels: tf.tensor1d(Array.from({ length: B }, (_, i) => (i * 7 + seed) % 2), 'int32'),
    tokens: 0,
    size: B,
  };
}
const LINEAR = (family: ModelFamily) =>
  family === 'distilbert' ? /\.(q_lin|k_lin|v_lin|out_lin|lin1|lin2)\.weight$/ : /\.(query|key|value|dense)\.weight$/;

interface Row {
  name: string;
  spec: MethodSpec;
  families: ModelFamily[];
  /** Trainable parameters, from the checkpoint's tensor shapes alone. */
  expected(gen: GeneratedModel, family: ModelFamily): number;
  learningRate: number;
  /** Run-config keys of its own (prompt methods: a max_length that leaves positions for the virtual tokens). */
  config?: Record<string, unknown>;
}

const size = (gen: GeneratedModel, pick: (n: string) => boolean) =>
  [...gen.tensors].filter(([n]) => pick(n)).reduce((a, [, t]) => a + t.data.length, 0);
/** PEFT's modules_to_save for sequence classification: the modules named `classifier` (not DistilBERT's pre_classifier). */
const classifier = (n: string) => /^classifier\./.test(n);
const loraSize = (gen: GeneratedModel, r: number, pick: (n: string) => boolean) =>
  [...gen.tensors].filter(([n, t]) => pick(n) && t.shape.length === 2).reduce((a, [, t]) => a + r * (t.shape[0]! + t.shape[1]!), 0);

export const ROWS: Row[] = [
  { name: 'full', spec: { name: 'full' }, families: ['bert', 'roberta', 'distilbert'], expected: (g) => size(g, () => true), learningRate: 1e-3 },
  {
    name: 'bitfit',
    spec: { name: 'bitfit', bias_terms: ['all'], train_head: true },
    families: ['bert', 'roberta', 'distilbert'],
    expected: (g) => size(g, (n) => n.endsWith('.bias') || HEAD.test(n)),
    learningRate: 1e-2,
  },
  {
    name: 'lora q,v',
    spec: { name: 'lora', r: 4, lora_alpha: 8, target_modules: ['query', 'value', 'q_lin', 'v_lin'] },
    families: ['bert', 'roberta', 'distilbert'],
    expected: (g) => loraSize(g, 4, (n) => /\.(query|value|q_lin|v_lin)\.weight$/.test(n)) + size(g, classifier),
    learningRate: 1e-2,
  },
  {
    name: 'lora all-linear, bias all, rslora',
    spec: { name: 'lora', r: 2, lora_alpha: 4, target_modules: 'all-linear', bias: 'all', use_rslora: true },
    families: ['bert', 'distilbert'],
    expected: (g, f) =>
      loraSize(g, 2, (n) => !HEAD.test(n) && (LINEAR(f).test(n) || /pooler\.dense\.weight$/.test(n))) +
      size(g, classifier) +
      size(g, (n) => n.endsWith('.bias') && !classifier(n)), // PEFT's bias='all': every parameter named bias
    learningRate: 1e-2,
  },
  {
    name: 'houlsby adapters',
    spec: { name: 'houlsby', reduction_factor: 4 },
    families: ['bert', 'roberta', 'distilbert'],
    expected: (g) => bottleneckSize(g, 4, 2) + size(g, (n) => HEAD.test(n)),
    learningRate: 1e-2,
  },
  {
    name: 'pfeiffer adapters, LayerNorms trained, layer 0 left out',
    spec: { name: 'pfeiffer', reduction_factor: 8, train_layer_norms: true, leave_out: [0] },
    families: ['bert', 'distilbert'],
    expected: (g) => bottleneckSize(g, 8, 1, 1) + size(g, (n) => HEAD.test(n)) + size(g, (n) => /layer\.\d+\..*(LayerNorm|layer_norm)\./.test(n)),
    learningRate: 1e-2,
  },
  {
    name: 'parallel adapters',
    spec: { name: 'par_bn', reduction_factor: 4 },
    families: ['bert', 'distilbert'],
    expected: (g) => bottleneckSize(g, 4, 1) + size(g, (n) => HEAD.test(n)),
    learningRate: 1e-2,
  },
  {
    name: 'prompt tuning',
    spec: { name: 'prompt-tuning', num_virtual_tokens: 4 },
    families: ['bert', 'roberta', 'distilbert'],
    expected: (g) => 4 * dims(g).h + size(g, classifier),
    learningRate: 1e-2,
    config: { max_length: 48 },
  },
  {
    name: 'p-tuning (MLP)',
    spec: { name: 'p-tuning', num_virtual_tokens: 3, encoder_hidden_size: 8 },
    families: ['bert', 'roberta', 'distilbert'],
    expected: (g) => {
      const { h } = dims(g);
      return 3 * h + (8 * h + 8) + (8 * 8 + 8) + (h * 8 + h) + size(g, classifier);
    },
    learningRate: 1e-2,
    config: { max_length: 48 },
  },
  {
    name: 'prefix tuning with projection',
    spec: { name: 'prefix-tuning', num_virtual_tokens: 3, prefix_projection: true, encoder_hidden_size: 8 },
    families: ['bert', 'roberta'],
    expected: (g) => {
      const { h, layers } = dims(g);
      return 3 * h + (8 * h + 8) + (2 * layers * h * 8 + 2 * layers * h) + size(g, classifier);
    },
    learningRate: 1e-2,
    config: { max_length: 48 },
  },
  {
    name: 'p-tuning v2',
    spec: { name: 'p-tuning-v2', num_virtual_tokens: 3 },
    families: ['bert', 'roberta'],
    expected: (g) => 3 * 2 * dims(g).layers * dims(g).h + size(g, classifier),
    learningRate: 1e-2,
    config: { max_length: 48 },
  },
  {
    // The BitFit paper's control: as many single entries as BitFit has biases, drawn from every tensor but the head.
    name: 'random-subset',
    spec: { name: 'random-subset' },
    families: ['bert', 'roberta', 'distilbert'],
    expected: (g) => size(g, (n) => n.endsWith('.bias') && !HEAD.test(n)) + size(g, (n) => HEAD.test(n)),
    learningRate: 1e-2,
  },
];

/** Hidden size and layer count of a generated checkpoint, from its tensors' shapes. */
function dims(g: GeneratedModel): { h: number; layers: number } {
  const words = [...g.tensors].find(([n]) => n.endsWith('word_embeddings.weight'))!;
  const layers = new Set([...g.tensors.keys()].map((n) => /\.layer\.(\d+)\./.exec(n)?.[1]).filter((x) => x !== undefined)).size;
  return { h: words[1].shape[1]!, layers };
}

/** AdapterHub's bottleneck parameters: (2·m·d + d + m) per place, m = d // reduction_factor, `places` per layer. */
function bottleneckSize(g: GeneratedModel, reductionFactor: number, places: number, leftOut = 0): number {
  const d = (g.config.hidden_size ?? g.config.dim) as number;
  const layers = (g.config.num_hidden_layers ?? g.config.n_layers) as number;
  const m = Math.floor(d / reductionFactor);
  return (layers - leftOut) * places * (2 * m * d + d + m);
}

for (const row of ROWS) {
  for (const family of row.families) {
    describe(`method ${row.name} on ${family}`, () => {
      let gen: GeneratedModel;
      let dir: string;
      let runDir: string;
      let started: StartedEvent;
      let events: RunEvent[];
      before(async () => {
        gen = makeTinyModel({ family, seed: 11, dropout: false });
        dir = tempDir('peft-method-');
        const trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(24, 3));
        events = [];
        const result = await train(
          resolveRunConfig({
            model: gen.dir, train_file: trainFile, output_dir: path.join(dir, 'run'), method: row.spec,
            max_steps: 4, per_device_train_batch_size: 8, eval_split: 0.25, learning_rate: row.learningRate, bias_change_steps: 2, seed: 3,
            ...row.config,
          }),
          { onEvent: (e) => events.push(e) },
        );
        assert.equal(result.status, 'finished', result.reason);
        runDir = result.runDir;
        started = ofType(events, 'started')[0]!;
      });

      it('trains exactly the expected number of parameters, and says which method', () => {
        assert.equal(started.method, methodFactory(row.spec.name).info.name);
        assert.equal(started.trainable.count, row.expected(gen, family));
        assert.equal((started.config.method as MethodSpec).name, methodFactory(row.spec.name).info.name);
      });

      it('leaves every tensor it does not train bit-identical', () => {
        const { model, method } = loadTrainedModel(runDir);
        try {
          const trained = new Set(method.trainable().keys());
          let frozen = 0;
          for (const [name, t] of gen.tensors) {
            if (trained.has(name)) continue;
            const now = model.params.get(name).dataSync() as Float32Array;
            assert.ok(Buffer.from(now.buffer, now.byteOffset, now.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${name} changed`);
            frozen++;
          }
          if (row.spec.name !== 'full') assert.ok(frozen > 0);
        } finally {
          model.dispose();
        }
      });

      it('lowers the loss on a fixed batch', async () => {
        const { model } = loadModel(gen.dir);
        const method = methodFactory(row.spec.name).create(methodFactory(row.spec.name).parseSpec(row.spec));
        method.apply(model, { seed: 1, notices: [] });
        const batch = tensorBatch(gen, 5, 8, 10);
        const losses = await adamCurve(model, method, batch, row.learningRate, 8);
        assert.ok(losses.at(-1)! < losses[0]! - 1e-3, `loss ${losses[0]} → ${losses.at(-1)}`);
        model.dispose();
        tf.dispose([batch.inputs.inputIds, batch.inputs.attentionMask, batch.inputs.tokenTypeIds!, batch.labels]);
      });

      it('reports what moved inside the announced grid', () => {
        const changes = ofType(events, 'change');
        assert.ok(changes.length >= 2, 'no what-moved reports');
        assert.equal(changes[0]!.measure, started.heatmap.measure);
        const last = changes.at(-1)!;
        assert.ok(last.cells.length > 0);
        for (const c of last.cells) {
          assert.ok(started.heatmap.rows.includes(c.row), `row ${c.row} of ${c.name}`);
          if (c.row.startsWith('layer.')) assert.ok(started.heatmap.kinds.includes(c.kind), `column ${c.kind} of ${c.name}`);
          assert.ok(Number.isFinite(c.value) && c.value >= 0);
        }
        assert.ok(last.cells.some((c) => c.value > 0), 'nothing moved');
      });

      it('round-trips through its checkpoint and its export', async () => {
        const texts = tensorBatch(gen, 9, 3, 7);
        const logitsOf = (m: EncoderModel) => {
          const l = tf.tidy(() => m.forward(texts.inputs).logits!);
          const d = l.dataSync() as Float32Array;
          l.dispose();
          return d;
        };
        const t = loadTrainedModel(runDir);
        const want = logitsOf(t.model);
        t.model.dispose();
        const factory = methodFactory(row.spec.name);
        if (factory.info.adapterFormat) {
          const out = path.join(dir, 'adapter');
          await exportAdapter(runDir, out);
          const fresh = path.join(dir, 'adapter-as-saved');
          // As the library would see it: without our trainable_init.safetensors.
          fs.mkdirSync(fresh);
          for (const f of fs.readdirSync(out)) if (f !== 'trainable_init.safetensors') fs.copyFileSync(path.join(out, f), path.join(fresh, f));
          for (const d of [out, fresh]) {
            const a = loadModelWithAdapter(gen.dir, d, { seed: 99 });
            const err = relL2(logitsOf(a.model), want);
            a.model.dispose();
            assert.ok(err <= 1e-6, `${path.basename(d)}: logits rel L2 ${err}`);
          }
        }
        if (factory.info.merge === true) {
          const out = path.join(dir, 'merged');
          await exportMerged(runDir, out);
          const { model } = loadModel(out);
          const err = relL2(logitsOf(model), want);
          model.dispose();
          assert.ok(err <= 1e-5, `merged: logits rel L2 ${err}`);
        } else {
          await assert.rejects(exportMerged(runDir, path.join(dir, 'merged')), (e: unknown) => e instanceof PeftStudioError && e.code === 'UNSUPPORTED' && e.message.includes(String(factory.info.merge)));
        }
        tf.dispose([texts.inputs.inputIds, texts.inputs.attentionMask, texts.inputs.tokenTypeIds!, texts.labels]);
      });
    });
  }
}
