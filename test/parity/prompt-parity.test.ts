/**
 * The prompt family against the real HF PEFT (../shared/fixtures/peft-tiny, PEFT 0.5.0): prompt tuning,
 * P-tuning (MLP), prefix tuning with and without projection. Logits and loss at the saved initial encoder,
 * the gradient of every trainable tensor and of the saved output (`prompt_embeddings`), the 20-step AdamW
 * curve, the logits after it, PEFT's own saved files read back through --adapter, and our export's keys,
 * shapes, config fields and values.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { initBackend } from '../../engine/backend/select';
import { tf } from '../../engine/backend/tf';
import { readSafetensors } from '../../engine/io/safetensors';
import { loadModel } from '../../engine/model/load';
import { fromPeftName, loadAdapterInto, readAdapter } from '../../engine/peft/adapter-import';
import { PromptMethod, PROMPT_EMBEDDINGS } from '../../engine/peft/prompt';
import { createPeftMethod } from '../../engine/peft/registry';
import { checkCurveAndAfter20, checkInitLogitsAndLoss, disposeFixtureBatch, fixtureBatch, gradientsOf, logitsAndLoss, openMethodFixture, readRenamed, relL2 } from '../helpers/method-fixtures';
import { parityBackends, sharedPath } from './reference';

const { root, expected, batchCase, modelDir } = openMethodFixture<PromptExpected>(sharedPath('fixtures', 'peft-tiny'));

interface PromptExpected {
  lr: number;
  logits_f64: number[][];
  loss_f64: number;
  logits_after20_f64: number[][];
  train: { losses_f64: number[] };
  trainable: Array<{ name: string; shape: number[]; in_graph: boolean; state_dict_key: string | null }>;
  adapter_state_dict_keys: Record<string, number[]>;
  reload_check: { init: { logits_f64: number[][] }; after20: { logits_f64: number[][] } };
}

const CASES = ['prompt_tuning', 'p_tuning', 'prefix_tuning', 'prefix_tuning_proj'];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prompt-parity-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A folder as PEFT writes it: adapter_config.json + one adapter_model.safetensors. */
function peftFolder(dir: string, name: string, file: string): string {
  const d = fs.mkdtempSync(path.join(tmp, `${name}-`));
  fs.copyFileSync(path.join(dir, 'adapter_config.json'), path.join(d, 'adapter_config.json'));
  fs.copyFileSync(path.join(dir, file), path.join(d, 'adapter_model.safetensors'));
  return d;
}

for (const backend of parityBackends()) {
  describe(`prompt family parity with HF PEFT on ${backend}`, () => {
    for (const name of CASES) {
      const exp = expected.methods[name]!;
      const dir = path.join(root, name);
      it(`${name}: trainable set, init logits, every gradient, 20-step curve, after-20 logits`, async (t) => {
        await initBackend({ backend, reinit: true });
        const before = tf.memory().numTensors;
        const { model } = loadModel(modelDir);
        const method = createPeftMethod(readAdapter(dir).spec) as PromptMethod;
        method.apply(model, { seed: 0, notices: [] });
        const inGraph = exp.trainable.filter((x) => x.in_graph);
        assert.deepEqual([...method.trainable().keys()].sort(), inGraph.map((x) => fromPeftName(x.name)).sort());
        for (const x of inGraph) assert.deepEqual(method.trainable().get(fromPeftName(x.name))!.shape, x.shape, x.name);
        for (const x of inGraph) assert.equal(method.libraryName(fromPeftName(x.name)), x.name);
        method.loadTensors(readRenamed(path.join(dir, 'trainable_init.safetensors'), fromPeftName), dir);
        const batch = fixtureBatch(batchCase);
        const logitsErr = await checkInitLogitsAndLoss(model, batch, exp);
        const ref = readRenamed(path.join(dir, 'grads.safetensors'), (k) => (k.startsWith('f64.') ? k.slice(4) : undefined));
        const grads = await gradientsOf(model, method, batch);
        let worstGrad = 0;
        for (const [n, g] of grads) {
          const want = ref.get(method.libraryName(n));
          assert.ok(want, `reference has no gradient for ${n}`);
          const err = relL2(g, want.data);
          worstGrad = Math.max(worstGrad, err);
          assert.ok(err <= 1e-4, `${n}: gradient rel L2 ${err}`);
        }
        const { worstCurve, after20 } = await checkCurveAndAfter20(model, method, batch, exp.lr, exp);
        t.diagnostic(`${backend} ${name}: logits ${logitsErr.toExponential(1)}, grads ≤ ${worstGrad.toExponential(1)}, curve ≤ ${worstCurve.toExponential(1)}, after-20 ${after20.toExponential(1)}`);
        disposeFixtureBatch(batch);
        model.dispose();
        assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      });

      it(`${name}: PEFT's saved files (init, after 20) load through --adapter with PEFT's logits; d loss / d prompt_embeddings`, async (t) => {
        await initBackend({ backend, reinit: true });
        const batch = fixtureBatch(batchCase);
        const refGrad = readRenamed(path.join(dir, 'grads.safetensors'), (k) => (k === `f64.${PROMPT_EMBEDDINGS}` ? k : undefined)).get(`f64.${PROMPT_EMBEDDINGS}`)!;
        for (const [file, want] of [
          ['adapter_model.safetensors', exp.reload_check.init.logits_f64],
          ['adapter_model_after20.safetensors', exp.reload_check.after20.logits_f64],
        ] as const) {
          const d = peftFolder(dir, name, file);
          const { model } = loadModel(modelDir);
          const method = createPeftMethod(readAdapter(d).spec) as PromptMethod;
          method.apply(model, { seed: 7, notices: [] });
          const { notices } = loadAdapterInto(method, d);
          const encoder = name === 'p_tuning' || name === 'prefix_tuning_proj';
          assert.equal(method.trainsOutputDirectly, encoder);
          if (encoder) assert.ok(notices.some((n) => /directly/.test(n)), notices.join('\n'));
          const { logits } = await logitsAndLoss(model, batch);
          const err = relL2(logits, want.flat());
          assert.ok(err <= 2e-5, `${file}: logits rel L2 ${err}`);
          if (file === 'adapter_model.safetensors') {
            const grads = await gradientsOf(model, method, batch);
            const g = grads.get(encoder ? PROMPT_EMBEDDINGS : 'prompt_encoder.embedding.weight')!;
            const gErr = relL2(g, refGrad.data);
            assert.ok(gErr <= 1e-4, `d loss / d ${PROMPT_EMBEDDINGS}: rel L2 ${gErr}`);
            t.diagnostic(`${backend} ${name}: reload logits ${err.toExponential(1)}, d/d prompt_embeddings ${gErr.toExponential(1)}`);
          }
          model.dispose();
        }
        disposeFixtureBatch(batch);
      });

      it(`${name}: export --adapter writes PEFT's keys, shapes, config fields and values`, async () => {
        await initBackend({ backend, reinit: true });
        const { model } = loadModel(modelDir);
        const method = createPeftMethod(readAdapter(dir).spec) as PromptMethod;
        method.apply(model, { seed: 0, notices: [] });
        method.loadTensors(readRenamed(path.join(dir, 'trainable_after20.safetensors'), fromPeftName), dir);
        const out = path.join(tmp, `${name}-export-${backend}`);
        await method.exportAdapter(out, { baseModel: 'model', id2label: { 0: 'LABEL_0', 1: 'LABEL_1' }, problemType: 'single_label_classification' });
        const theirs = readSafetensors(path.join(dir, 'adapter_model_after20.safetensors'));
        const mine = readSafetensors(path.join(out, 'adapter_model.safetensors'));
        assert.deepEqual([...mine.tensors.keys()].sort(), Object.keys(exp.adapter_state_dict_keys).sort());
        for (const [k, tt] of theirs.tensors) {
          assert.deepEqual(mine.tensors.get(k)!.shape, tt.shape, k);
          const err = relL2(mine.tensors.get(k)!.data as Float32Array, tt.data as Float32Array);
          assert.ok(err <= 1e-5, `${k}: value rel L2 ${err}`);
        }
        assert.equal(mine.metadata.format, 'pt');
        const cfg = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
        const refCfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
        assert.deepEqual(cfg, refCfg);
        assert.throws(() => method.merge(), /cannot be merged/);
        model.dispose();
      });
    }
  });
}
