/**
 * The prompt family's settings and bad input (refused before any work, naming the setting and the fix), TEXT
 * init from the model's own word embeddings, the what-moved grid (nearest vocabulary tokens per virtual
 * token; prefixes per layer and head), continuing from PEFT's encoder-less file, and inspect's lines.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../backend/select';
import { tf } from '../../backend/tf';
import { PeftStudioError } from '../../errors';
import { maxTokens } from '../../model/limits';
import { loadModel } from '../../model/load';
import type { EncoderModel } from '../../model/model';
import { loadTokenizer } from '../../tokenizer';
import type { Tokenizer } from '../../tokenizer/types';
import { makeTinyModel, removeTempDirs } from '../../../test/helpers/train-fixtures';
import { removeModelDirs } from '../../../test/helpers/make-model';
import { sharedPath } from '../../../test/parity/reference';
import { loadAdapterInto, readAdapter } from '../adapter-import';
import { createPeftMethod, resolveMethodSpec } from '../registry';
import { inspectPromptAdapter, PROMPT_EMBEDDINGS, type PromptMethod } from './index';

const root = sharedPath('fixtures', 'peft-tiny');
const modelDir = path.join(root, 'model');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prompt-unit-'));
let tokenizer: Tokenizer;

before(async () => {
  await initBackend({ backend: 'cpu', reinit: true });
  tokenizer = await loadTokenizer(modelDir);
});
after(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
  removeTempDirs();
  removeModelDirs();
});

const isError = (code: string, re: RegExp) => (e: unknown) => e instanceof PeftStudioError && e.code === code && re.test(e.message);

function applied(spec: Record<string, unknown>, ctx: { maxLength?: number } = {}): { model: EncoderModel; method: PromptMethod } {
  const { model } = loadModel(modelDir);
  const method = createPeftMethod({ name: 'prompt-tuning', ...spec } as { name: string }) as PromptMethod;
  try {
    method.apply(model, { seed: 1, tokenizer, notices: [], ...ctx });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, method };
}

describe('prompt family settings and bad input', () => {
  it('fills PEFT defaults and refuses bad settings naming them', () => {
    assert.deepEqual(resolveMethodSpec({ name: 'prefix-tuning' }), { name: 'prefix-tuning', num_virtual_tokens: 20, encoder_hidden_size: null, prefix_projection: false });
    assert.throws(() => resolveMethodSpec({ name: 'prompt-tuning', num_virtual_tokens: 0 }), isError('BAD_INPUT', /num_virtual_tokens must be ≥ 1/));
    assert.throws(() => resolveMethodSpec({ name: 'p-tuning', num_virtual_tokens: -3 }), isError('BAD_INPUT', /num_virtual_tokens/));
    assert.throws(() => createPeftMethod({ name: 'p-tuning', encoder_reparameterization_type: 'LSTM' }), isError('UNSUPPORTED', /LSTM.*use MLP/));
    assert.throws(() => createPeftMethod({ name: 'prompt-tuning', prompt_tuning_init: 'TEXT' }), isError('BAD_INPUT', /prompt_tuning_init_text/));
    assert.throws(() => resolveMethodSpec({ name: 'p-tuning-v2', prefix_projection: true }), isError('BAD_INPUT', /unknown setting/));
  });

  it('refuses virtual tokens that do not fit beside max_length, saying by how much and what to lower', () => {
    assert.throws(() => applied({ num_virtual_tokens: 5 }, { maxLength: 510 }), isError('BAD_INPUT', /5 \+ max_length 510 = 515 exceeds the model's 512 positions by 3; lower max_length to 507 or num_virtual_tokens to 2/));
    assert.throws(() => applied({ num_virtual_tokens: 512 }), isError('BAD_INPUT', /leaves no position/));
    const ok = applied({ num_virtual_tokens: 5 }, { maxLength: 507 });
    ok.model.dispose();
  });

  it('once applied, the model offers the text only the positions the virtual tokens leave', async () => {
    for (const spec of [{ name: 'prompt-tuning', num_virtual_tokens: 5 }, { name: 'p-tuning-v2', num_virtual_tokens: 7 }]) {
      const { model } = loadModel(modelDir);
      assert.equal(maxTokens(model), 512);
      createPeftMethod(spec).apply(model, { seed: 0, notices: [] });
      const room = maxTokens(model);
      assert.equal(room, 512 - spec.num_virtual_tokens);
      const ids = tf.tensor2d([Array.from({ length: room }, (_, i) => 100 + (i % 50))], undefined, 'int32');
      const mask = tf.onesLike(ids) as tf.Tensor2D;
      const logits = tf.tidy(() => model.forward({ inputIds: ids as tf.Tensor2D, attentionMask: mask }).logits!);
      assert.ok([...(await logits.data())].every(Number.isFinite));
      tf.dispose([ids, mask, logits]);
      model.dispose();
    }
  });

  it('refuses an init text that tokenizes to nothing', () => {
    assert.throws(() => applied({ num_virtual_tokens: 4, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: ' \u200b ' }), isError('BAD_INPUT', /tokenizes to no tokens/));
  });

  it('refuses prefix tuning on DistilBERT, naming what works there', () => {
    const gen = makeTinyModel({ family: 'distilbert', seed: 2 });
    const { model } = loadModel(gen.dir);
    for (const name of ['prefix-tuning', 'p-tuning-v2']) {
      const method = createPeftMethod({ name });
      assert.throws(() => method.apply(model, { seed: 0, notices: [] }), isError('UNSUPPORTED', /DistilBERT.*prompt-tuning or p-tuning/));
    }
    model.dispose();
  });

  it('refuses an adapter made for another base model, naming the tensor and shapes', () => {
    const gen = makeTinyModel({ family: 'bert', seed: 2 }); // hidden 32, not 128
    for (const name of ['prompt_tuning', 'p_tuning', 'prefix_tuning_proj']) {
      const dir = path.join(root, name);
      // With trainable_init.safetensors (the encoder) and as PEFT saved it (only its output).
      const bare = fs.mkdtempSync(path.join(tmp, `${name}-`));
      for (const f of ['adapter_config.json', 'adapter_model.safetensors']) fs.copyFileSync(path.join(dir, f), path.join(bare, f));
      for (const d of [dir, bare]) {
        const { model } = loadModel(gen.dir);
        const method = createPeftMethod(readAdapter(d).spec);
        method.apply(model, { seed: 0, notices: [] });
        assert.throws(() => loadAdapterInto(method, d), isError('WEIGHTS_MISMATCH', /shape \[.*\].*\[.*\].*another base model/));
        model.dispose();
      }
    }
  });
});

describe('prompt family behaviour', () => {
  it("TEXT init: the model's word embeddings of the text's tokens (special tokens included), repeated to num_virtual_tokens", async () => {
    const { model, method } = applied({ num_virtual_tokens: 10, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'hello world' });
    const ids = tokenizer.encode('hello world').inputIds; // [CLS] hello world [SEP]
    const want = Array.from({ length: 10 }, (_, i) => ids[i % ids.length]!);
    const words = (await model.params.get('bert.embeddings.word_embeddings.weight').data()) as Float32Array;
    const rows = (await method.trainable().get('prompt_encoder.embedding.weight')!.data()) as Float32Array;
    for (let i = 0; i < 10; i++) assert.deepEqual(rows.slice(i * 128, (i + 1) * 128), words.slice(want[i]! * 128, (want[i]! + 1) * 128), `row ${i}`);
    const near = method.nearestNow(3);
    assert.equal(near.now[1]![0]!.token, 'hello');
    assert.ok(Math.abs(near.now[1]![0]!.cosine - 1) < 1e-5);
    model.dispose();
  });

  it('seeded: the same seed gives the same prompt, another seed another', async () => {
    const rows = async (seed: number) => {
      const { model } = loadModel(modelDir);
      const m = createPeftMethod({ name: 'p-tuning', num_virtual_tokens: 3, encoder_hidden_size: 8 }) as PromptMethod;
      m.apply(model, { seed, notices: [] });
      const out = tf.tidy(() => m.output()).dataSync().slice();
      model.dispose();
      return out;
    };
    assert.deepEqual(await rows(4), await rows(4));
    assert.notDeepEqual(await rows(4), await rows(5));
  });

  it('what moved, prompts: one row of virtual tokens, with nearest vocabulary tokens at the start and now', async () => {
    const { model, method } = applied({ num_virtual_tokens: 3 });
    assert.deepEqual(method.changeLayout(), { rows: ['prompt'], columns: ['v0', 'v1', 'v2'], measure: method.changeLayout().measure });
    const v = method.trainable().get('prompt_encoder.embedding.weight')!;
    tf.tidy(() => v.assign(tf.add(v, tf.mul(tf.oneHot([1], 3).reshape([3, 1]), 0.5))));
    const e = await method.changeReport(7, 4);
    assert.equal(e.cells.length, 3);
    assert.equal(e.cells[0]!.value, 0);
    assert.ok(e.cells[1]!.value > 0 && e.cells[1]!.relative! > 0);
    assert.equal(e.cells[1]!.top.length, 4);
    const titles = e.cells[1]!.details!.map((d) => d.title);
    assert.ok(titles.some((t) => /nearest.*now/.test(t)) && titles.some((t) => /nearest.*start/.test(t)));
    assert.equal(e.cells[1]!.details![0]!.items.length, 5);
    model.dispose();
  });

  it('what moved, prefixes: layers × virtual tokens, keys and values per head', async () => {
    const { model } = loadModel(modelDir);
    const method = createPeftMethod({ name: 'p-tuning-v2', num_virtual_tokens: 2 }) as PromptMethod;
    method.apply(model, { seed: 0, notices: [] });
    assert.deepEqual(method.changeLayout().rows, ['layer.0', 'layer.1']);
    const v = method.trainable().get('prompt_encoder.embedding.weight')!; // [2, 2·2·128]: [k0 v0 k1 v1]
    // Move layer 1's value of virtual token 0 in head 1 only.
    const delta = new Float32Array(2 * 512);
    for (let c = 384 + 64; c < 512; c++) delta[c] = 0.1;
    tf.tidy(() => v.assign(tf.add(v, tf.tensor2d(delta, [2, 512]))));
    const e = await method.changeReport(1, 3);
    const moved = e.cells.filter((c) => c.value > 0);
    assert.deepEqual(moved.map((c) => [c.row, c.kind]), [['layer.1', 'v0']]);
    const [keys, values] = moved[0]!.details!;
    assert.deepEqual(keys!.items.map((i) => i.value), [0, 0]);
    assert.equal(values!.items[0]!.value, 0);
    assert.ok(Math.abs(values!.items[1]!.value - Math.sqrt(64 * 0.01)) < 1e-5);
    assert.throws(() => method.nearestNow(), isError('UNSUPPORTED', /no nearest vocabulary tokens/));
    model.dispose();
  });

  it("continuing from PEFT's encoder-less P-tuning file: the output trains directly, and checkpoints round-trip", async () => {
    const bare = fs.mkdtempSync(path.join(tmp, 'p-tuning-'));
    for (const f of ['adapter_config.json', 'adapter_model.safetensors']) fs.copyFileSync(path.join(root, 'p_tuning', f), path.join(bare, f));
    const { model } = loadModel(modelDir);
    const method = createPeftMethod(readAdapter(bare).spec) as PromptMethod;
    method.apply(model, { seed: 0, notices: [] });
    const { notices } = loadAdapterInto(method, bare);
    assert.ok(notices.some((n) => /directly/.test(n)));
    assert.deepEqual([...method.trainable().keys()].sort(), ['classifier.bias', 'classifier.weight', PROMPT_EMBEDDINGS]);
    assert.ok(!model.params.names().some((n) => n.startsWith('prompt_encoder.')), 'the encoder was left in the model');
    const moved = await method.changeReport(0, 3);
    assert.ok(moved.cells.every((c) => c.value === 0), 'the what-moved grid does not start at the loaded adapter');
    const saved = await method.exportTensors();
    const { model: again } = loadModel(modelDir);
    const fresh = createPeftMethod(readAdapter(bare).spec) as PromptMethod;
    fresh.apply(again, { seed: 9, notices: [] });
    const badHead = new Map(saved);
    badHead.set('classifier.weight', { shape: [3, 128], data: new Float32Array(384) });
    assert.throws(() => fresh.loadTensors(badHead, 'checkpoint'), isError('WEIGHTS_MISMATCH', /classifier\.weight has shape \[3,128\]/));
    assert.equal(fresh.trainsOutputDirectly, false, 'a refused file changed the method');
    fresh.loadTensors(saved, 'checkpoint', { dryRun: true });
    assert.equal(fresh.trainsOutputDirectly, false, 'a dry run changed the method');
    fresh.loadTensors(saved, 'checkpoint');
    assert.equal(fresh.trainsOutputDirectly, true);
    const a = tf.tidy(() => method.output()).dataSync();
    const b = tf.tidy(() => fresh.output()).dataSync();
    assert.deepEqual(a, b);
    model.dispose();
    again.dispose();
  });

  it('inspect --adapter lines: nearest vocabulary tokens per virtual token; prefixes are refused', () => {
    const { model } = loadModel(modelDir);
    const words = model.params.get('bert.embeddings.word_embeddings.weight');
    const lines = inspectPromptAdapter(path.join(root, 'prompt_tuning'), words, tokenizer, 3);
    assert.equal(lines.length, 1 + 5);
    assert.match(lines[1]!, /^ {2}v0 {2}\S+ -?\d\.\d\d, \S+ -?\d\.\d\d, \S+ -?\d\.\d\d$/);
    assert.throws(() => inspectPromptAdapter(path.join(root, 'prefix_tuning'), words, tokenizer), isError('UNSUPPORTED', /prefix/));
    model.dispose();
  });
});
