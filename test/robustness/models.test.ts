/**
 * Hostile model folders through the library front door (`openModel`, `predict`, `loadModel`): sizes that
 * would allocate without end, configs whose sizes the weights cannot hold, NaN/Inf weights, values that
 * must never reach a kernel. Each ends in a PeftStudioError naming the file and the field or tensor, fast.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { openModel, predict } from '../../engine/api/model-handle';
import { PeftStudioError } from '../../engine/errors';
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from '../../engine/io/safetensors';
import { loadModel } from '../../engine/model/load';
import { expectError } from '../helpers/expect-error';
import { makeModelDir, removeModelDirs, type GeneratedModel } from '../helpers/make-model';

after(() => removeModelDirs());

const configFile = (dir: string) => path.join(dir, 'config.json');
const weightsFile = (dir: string) => path.join(dir, 'model.safetensors');
function editConfig(dir: string, edit: (c: Record<string, any>) => void): void {
  const c = JSON.parse(fs.readFileSync(configFile(dir), 'utf8'));
  edit(c);
  fs.writeFileSync(configFile(dir), JSON.stringify(c));
}
/** Rewrites model.safetensors with `edit` applied to each float tensor's data. */
function editWeights(gen: GeneratedModel, edit: (name: string, data: Float32Array) => void): void {
  const { tensors } = parseSafetensors(fs.readFileSync(weightsFile(gen.dir)), weightsFile(gen.dir));
  const out: TensorToWrite[] = [];
  for (const [name, t] of tensors) {
    if (t.data instanceof Float32Array) edit(name, t.data);
    out.push({ name, dtype: t.data instanceof Float32Array ? 'F32' : 'I64', shape: t.shape, data: t.data });
  }
  fs.writeFileSync(weightsFile(gen.dir), serializeSafetensors(out));
}
async function rejectsWith(p: Promise<unknown>, code: string, ...patterns: Array<RegExp | string>): Promise<PeftStudioError> {
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof PeftStudioError, `expected a PeftStudioError ${code}, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const pat of patterns) {
    if (typeof pat === 'string') assert.ok(caught.message.includes(pat), `message should name "${pat}": ${caught.message}`);
    else assert.match(caught.message, pat);
  }
  return caught;
}

describe('size fields', () => {
  for (const layers of [1e12, 2 ** 31]) {
    it(`num_hidden_layers ${layers}: openModel (inspect, predict) refuses it at once, naming the field`, async () => {
      const gen = makeModelDir({ family: 'bert' });
      editConfig(gen.dir, (c) => (c.num_hidden_layers = layers));
      const t0 = Date.now();
      await rejectsWith(openModel(gen.dir, { backend: 'cpu' }), 'BAD_CONFIG', configFile(gen.dir), '"num_hidden_layers"');
      assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    });
  }

  it('a config describing more encoder than the weights hold is WEIGHTS_MISMATCH naming the sizes in one line, ahead of the missing tensors', () => {
    const gen = makeModelDir({ family: 'bert' });
    editConfig(gen.dir, (c) => (c.num_hidden_layers = 900));
    expectError(() => loadModel(gen.dir), 'WEIGHTS_MISMATCH', weightsFile(gen.dir), /describes an encoder of [\d,]+ parameters \(900 layers/, /weights hold only/);
  });

  it('a model asked for more labels than the limit is refused', () => {
    const gen = makeModelDir({ family: 'bert' });
    expectError(() => loadModel(gen.dir, { numLabels: 100_000_001 }), 'BAD_INPUT', /numLabels/);
  });
});

describe('non-finite weights', () => {
  for (const [what, value] of [['NaN', NaN], ['+Inf', Infinity], ['-Inf', -Infinity]] as const) {
    it(`a ${what} in an encoder weight is BAD_WEIGHTS naming the tensor; predict never runs on it`, async () => {
      const gen = makeModelDir({ family: 'bert' });
      editWeights(gen, (name, data) => {
        if (name === 'bert.encoder.layer.1.output.dense.weight') data[7] = value;
      });
      await rejectsWith(openModel(gen.dir, { backend: 'cpu' }), 'BAD_WEIGHTS', weightsFile(gen.dir), '"bert.encoder.layer.1.output.dense.weight"', /non-finite value .*element 7/);
    });
  }

  it('finite weights that overflow in the forward pass: predict says so instead of printing garbage or crashing', async () => {
    const gen = makeModelDir({ family: 'bert' });
    editWeights(gen, (name, data) => {
      if (name === 'classifier.weight') data.fill(3e38);
    });
    const h = await openModel(gen.dir, { backend: 'cpu' });
    try {
      await rejectsWith(predict(h, [{ text: 'a b c' }]), 'BAD_WEIGHTS', gen.dir, /non-finite logit/);
    } finally {
      h.model.dispose();
    }
  });
});

describe('config values that must never reach a kernel', () => {
  it('layer_norm_eps -1: BAD_CONFIG naming the field, from openModel, on every backend path', async () => {
    const gen = makeModelDir({ family: 'bert' });
    editConfig(gen.dir, (c) => (c.layer_norm_eps = -1));
    await rejectsWith(openModel(gen.dir, { backend: 'cpu' }), 'BAD_CONFIG', configFile(gen.dir), '"layer_norm_eps"');
  });

  it('id2label as a list: refused, never predicted with as "score"', async () => {
    const gen = makeModelDir({ family: 'bert' });
    editConfig(gen.dir, (c) => (c.id2label = [1, 2]));
    await rejectsWith(openModel(gen.dir, { backend: 'cpu' }), 'BAD_CONFIG', configFile(gen.dir), '"id2label"');
  });
});
