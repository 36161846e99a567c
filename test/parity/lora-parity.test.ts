/**
 * LoRA against the real HF PEFT (../shared/fixtures/peft-tiny, PEFT 0.5.0): the same modules wrapped, the
 * same scale, logits and loss at the saved initial adapter, the gradient of every trainable tensor, the
 * 20-step AdamW curve, the merged model (merge_and_unload) and the reload of PEFT's own saved files.
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
import { loadAdapterInto, readAdapter } from '../../engine/peft/adapter-import';
import { Lora } from '../../engine/peft/lora';
import { createPeftMethod } from '../../engine/peft/registry';
import { checkCurveAndAfter20, checkInitLogitsAndLoss, disposeFixtureBatch, fixtureBatch, gradientsOf, logitsAndLoss, openMethodFixture, readRenamed, relL2 } from '../helpers/method-fixtures';
import { parityBackends, sharedPath } from './reference';

const { root, expected, batchCase, modelDir } = openMethodFixture<LoraExpected>(sharedPath('fixtures', 'peft-tiny'));

interface LoraExpected {
  lr: number;
  adapter_config: Record<string, unknown>;
  lora_wrapped_modules: string[];
  lora_scaling: number;
  logits_f64: number[][];
  loss_f64: number;
  logits_after20_f64: number[][];
  train: { losses_f64: number[] };
  trainable: Array<{ name: string; in_graph: boolean; state_dict_key: string | null }>;
  reload_check: { init: { logits_f64?: number[][] }; after20: { logits_f64?: number[][] } } & Record<string, unknown>;
  merged?: { logits_f64: number[][]; loss_f64: number };
}

/** PEFT's in-memory parameter name → ours (`base_model.model.` and `.default` go, the classifier copy is the classifier). */
export function ours(peftName: string): string {
  return peftName.replace(/^base_model\.model\./, '').replace(/\.default\./, '.').replace(/\.modules_to_save\./, '.');
}

const CASES = Object.keys(expected.methods).filter((m) => m.startsWith('lora'));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-parity-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

for (const backend of parityBackends()) {
  describe(`LoRA parity with HF PEFT on ${backend}`, () => {
    for (const name of CASES) {
      const exp = expected.methods[name]!;
      const dir = path.join(root, name);
      it(`${name}: wrapped modules, scale, init logits, every gradient, 20-step curve`, async (t) => {
        await initBackend({ backend, reinit: true });
        const before = tf.memory().numTensors;
        const { model } = loadModel(modelDir);
        const a = readAdapter(dir); // the method and settings from PEFT's own adapter_config.json
        const method = createPeftMethod(a.spec) as Lora;
        method.apply(model, { seed: 0, notices: [] });
        assert.deepEqual(method.targetModules().sort(), exp.lora_wrapped_modules.map(ours).sort());
        assert.equal(method.scaling, exp.lora_scaling);
        const inGraph = exp.trainable.filter((x) => x.in_graph).map((x) => ours(x.name)).sort();
        assert.deepEqual([...method.trainable().keys()].sort(), inGraph);
        method.loadTensors(readRenamed(path.join(dir, 'trainable_init.safetensors'), ours), dir);
        const batch = fixtureBatch(batchCase);
        const logitsErr = await checkInitLogitsAndLoss(model, batch, exp);
        const ref = readRenamed(path.join(dir, 'grads.safetensors'), (k) => (k.startsWith('f64.') ? ours(k.slice(4)) : undefined));
        const grads = await gradientsOf(model, method, batch);
        let worstGrad = 0;
        for (const [n, g] of grads) {
          const want = ref.get(n);
          assert.ok(want, `reference has no gradient for ${n}`);
          const maxRef = Math.max(...want.data.map(Math.abs));
          // lora_A with B = 0 has an exactly zero gradient: compare absolutely there.
          const err = maxRef === 0 ? Math.max(...g.map(Math.abs)) : relL2(g, want.data);
          worstGrad = Math.max(worstGrad, err);
          assert.ok(err <= 1e-4, `${n}: gradient error ${err}`);
        }
        const { worstCurve, after20 } = await checkCurveAndAfter20(model, method, batch, exp.lr, exp);
        t.diagnostic(`${backend} ${name}: logits ${logitsErr.toExponential(1)}, grads ≤ ${worstGrad.toExponential(1)}, curve ≤ ${worstCurve.toExponential(1)}, after-20 ${after20.toExponential(1)}`);
        disposeFixtureBatch(batch);
        model.dispose();
        assert.equal(tf.memory().numTensors, before, 'tensors leaked');
      });

      it(`${name}: PEFT's saved files (init and after 20 steps) load through --adapter with PEFT's logits`, async () => {
        await initBackend({ backend, reinit: true });
        const batch = fixtureBatch(batchCase);
        for (const [file, want] of [
          ['adapter_model.safetensors', exp.logits_f64],
          ['adapter_model_after20.safetensors', exp.logits_after20_f64],
        ] as const) {
          // A folder as PEFT writes it: adapter_config.json + adapter_model.safetensors.
          const d = fs.mkdtempSync(path.join(tmp, `${name}-`));
          fs.copyFileSync(path.join(dir, 'adapter_config.json'), path.join(d, 'adapter_config.json'));
          fs.copyFileSync(path.join(dir, file), path.join(d, 'adapter_model.safetensors'));
          const { model } = loadModel(modelDir);
          const method = createPeftMethod(readAdapter(d).spec);
          method.apply(model, { seed: 7, notices: [] });
          loadAdapterInto(method, d);
          const { logits } = await logitsAndLoss(model, batch);
          const err = relL2(logits, want.flat());
          assert.ok(err <= 2e-5, `${file}: logits rel L2 ${err}`);
          model.dispose();
        }
        disposeFixtureBatch(batch);
      });

      it(`${name}: export --adapter writes PEFT's keys, shapes and config; merge equals merge_and_unload`, async () => {
        await initBackend({ backend, reinit: true });
        const { model } = loadModel(modelDir);
        const method = createPeftMethod(readAdapter(dir).spec) as Lora;
        method.apply(model, { seed: 0, notices: [] });
        method.loadTensors(readRenamed(path.join(dir, 'trainable_after20.safetensors'), ours), dir);
        const out = path.join(tmp, `${name}-export-${backend}`);
        await method.exportAdapter(out, { baseModel: 'model', id2label: { 0: 'LABEL_0', 1: 'LABEL_1' }, problemType: 'single_label_classification' });
        const theirs = readSafetensors(path.join(dir, 'adapter_model_after20.safetensors'));
        const mine = readSafetensors(path.join(out, 'adapter_model.safetensors'));
        assert.deepEqual([...mine.tensors.keys()].sort(), [...theirs.tensors.keys()].sort());
        for (const [k, t] of theirs.tensors) assert.deepEqual(mine.tensors.get(k)!.shape, t.shape, k);
        assert.equal(mine.metadata.format, 'pt');
        const cfg = JSON.parse(fs.readFileSync(path.join(out, 'adapter_config.json'), 'utf8'));
        const refCfg = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
        assert.deepEqual(Object.keys(cfg).sort(), Object.keys(refCfg).sort());
        for (const k of ['peft_type', 'r', 'lora_alpha', 'target_modules', 'bias', 'task_type', 'fan_in_fan_out']) assert.deepEqual(cfg[k], refCfg[k], k);
        if (exp.merged && fs.existsSync(path.join(dir, 'merged', 'model.safetensors'))) {
          const batch = fixtureBatch(batchCase);
          method.merge();
          assert.ok(!model.params.names().some((n) => n.includes('lora_')), 'merge left LoRA tensors');
          const { logits, loss } = await logitsAndLoss(model, batch);
          const err = relL2(logits, exp.merged.logits_f64.flat());
          assert.ok(err <= 2e-5, `merged logits rel L2 ${err}`);
          assert.ok(Math.abs(loss - exp.merged.loss_f64) <= 1e-5);
          const refMerged = readSafetensors(path.join(dir, 'merged', 'model.safetensors')).tensors;
          for (const m of exp.lora_wrapped_modules.map(ours)) {
            const w = (await model.params.get(`${m}.weight`).data()) as Float32Array;
            assert.ok(relL2(w, refMerged.get(`${m}.weight`)!.data) <= 1e-6, `${m}: merged weight differs`);
          }
          disposeFixtureBatch(batch);
        }
        model.dispose();
      });
    }
  });
}
