import { test } from 'node:test';
import { expectError } from '../../test/helpers/expect-error';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadStateDict } from './weights';
import { serializeSafetensors } from './safetensors';
import { CONVERT_COMMAND } from './torch-pickle';
import { makeTorchZip, maliciousPickle, simpleSpec, torchZipFromPickle } from '../../test/helpers/make-torch-zip';

const FIXTURE_DIR = path.resolve(__dirname, '../../../shared/fixtures/hf-bert-tiny');

function withDir(files: Record<string, Uint8Array | string>, fn: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weights-'));
  try {
    for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), data);
    fn(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const f32 = (...v: number[]) => Float32Array.from(v);
const shardA = serializeSafetensors({ 'a.weight': { dtype: 'F32', shape: [2], data: f32(1, 2) }, 'a.bias': { dtype: 'F32', shape: [1], data: f32(3) } });
const shardB = serializeSafetensors({ 'b.weight': { dtype: 'F16', shape: [2], data: f32(4, 5) } });
const index = (map: Record<string, string>) => JSON.stringify({ metadata: { total_size: 16 }, weight_map: map });
const goodMap = { 'a.bias': 'model-00001-of-00002.safetensors', 'a.weight': 'model-00001-of-00002.safetensors', 'b.weight': 'model-00002-of-00002.safetensors' };

test('single model.safetensors: the real fixture folder', () => {
  assert.ok(fs.existsSync(FIXTURE_DIR), `${FIXTURE_DIR} is missing: these tests need the shared fixtures checked out at ../shared next to the repo`);
  const r = loadStateDict(FIXTURE_DIR);
  assert.equal(r.format, 'safetensors');
  assert.deepEqual(r.files, [path.join(FIXTURE_DIR, 'model.safetensors')]);
  assert.deepEqual(r.tensors.get('bert.embeddings.word_embeddings.weight')!.shape, [1000, 128]);
  assert.equal(r.tensors.get('bert.embeddings.position_ids')!.dtype, 'I64');
  assert.deepEqual(r.notices, []);
});

test('model.safetensors wins over pytorch_model.bin, and the other file is mentioned', () => {
  withDir(
    {
      'model.safetensors': serializeSafetensors({ w: { dtype: 'F32', shape: [1], data: f32(1) } }),
      'pytorch_model.bin': makeTorchZip(simpleSpec({ w: { dtype: 'F32', shape: [1], values: [2] } })),
    },
    (dir) => {
      const r = loadStateDict(dir);
      assert.equal(r.format, 'safetensors');
      assert.deepEqual([...r.tensors.get('w')!.data], [1]);
      assert.ok(r.notices.some((n) => /also present and ignored: pytorch_model\.bin/.test(n)), r.notices.join('\n'));
    },
  );
});

test('sharded safetensors: every shard loaded, in shard order, with a dtype notice', () => {
  withDir(
    { 'model.safetensors.index.json': index(goodMap), 'model-00001-of-00002.safetensors': shardA, 'model-00002-of-00002.safetensors': shardB },
    (dir) => {
      const r = loadStateDict(dir);
      assert.equal(r.format, 'safetensors-sharded');
      assert.deepEqual(r.files, ['model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'].map((f) => path.join(dir, f)));
      assert.deepEqual([...r.tensors.keys()], ['a.weight', 'a.bias', 'b.weight']);
      assert.deepEqual([...r.tensors.get('b.weight')!.data], [4, 5]);
      assert.deepEqual(r.notices, ['1 F16 tensors widened to float32']);
    },
  );
});

test('sharded safetensors: a missing shard is named', () => {
  withDir({ 'model.safetensors.index.json': index(goodMap), 'model-00001-of-00002.safetensors': shardA }, (dir) => {
    expectError(() => loadStateDict(dir), 'MISSING_FILE', /names shard\(s\) that are not in/, /model-00002-of-00002\.safetensors/);
  });
});

test('sharded safetensors: a tensor in another shard than the index says', () => {
  const map = { ...goodMap, 'a.bias': 'model-00002-of-00002.safetensors' };
  withDir({ 'model.safetensors.index.json': index(map), 'model-00001-of-00002.safetensors': shardA, 'model-00002-of-00002.safetensors': shardB }, (dir) => {
    const e = expectError(() => loadStateDict(dir), 'BAD_WEIGHTS', /tensor "a\.bias" is in shard model-00001-of-00002\.safetensors, but model\.safetensors\.index\.json maps it to model-00002-of-00002\.safetensors/);
    assert.equal(e.file, path.join(dir, 'model-00001-of-00002.safetensors'));
  });
});

test('sharded safetensors: a tensor the index promises but the shard lacks', () => {
  const map = { ...goodMap, 'c.weight': 'model-00002-of-00002.safetensors' };
  withDir({ 'model.safetensors.index.json': index(map), 'model-00001-of-00002.safetensors': shardA, 'model-00002-of-00002.safetensors': shardB }, (dir) => {
    expectError(() => loadStateDict(dir), 'BAD_WEIGHTS', /lists 1 tensor\(s\) that no shard contains: c\.weight \(→ model-00002-of-00002\.safetensors\)/);
  });
});

test('sharded safetensors: a tensor the index does not list', () => {
  const map: Record<string, string> = { ...goodMap };
  delete map['a.weight'];
  withDir({ 'model.safetensors.index.json': index(map), 'model-00001-of-00002.safetensors': shardA, 'model-00002-of-00002.safetensors': shardB }, (dir) => {
    expectError(() => loadStateDict(dir), 'BAD_WEIGHTS', /tensor "a\.weight" is in shard model-00001-of-00002\.safetensors, but model\.safetensors\.index\.json does not list it/);
  });
});

test('sharded safetensors: a tensor in two shards', () => {
  const dup = serializeSafetensors({ 'b.weight': { dtype: 'F16', shape: [2], data: f32(4, 5) }, 'a.bias': { dtype: 'F32', shape: [1], data: f32(3) } });
  withDir({ 'model.safetensors.index.json': index(goodMap), 'model-00001-of-00002.safetensors': shardA, 'model-00002-of-00002.safetensors': dup }, (dir) => {
    expectError(() => loadStateDict(dir), 'BAD_WEIGHTS', /Tensor "a\.bias" appears in both model-00001-of-00002\.safetensors and model-00002-of-00002\.safetensors/);
  });
});

test('sharded index: bad JSON, no weight_map, shard path escaping the folder', () => {
  withDir({ 'model.safetensors.index.json': '{"weight_map": ' }, (dir) => {
    expectError(() => loadStateDict(dir), 'BAD_WEIGHTS', /model\.safetensors\.index\.json: not valid JSON/);
  });
  withDir({ 'model.safetensors.index.json': '{"metadata": {}}' }, (dir) => {
    expectError(() => loadStateDict(dir), 'BAD_WEIGHTS', /missing the "weight_map" object/);
  });
  withDir({ 'model.safetensors.index.json': index({ w: '../../etc/passwd' }) }, (dir) => {
    expectError(() => loadStateDict(dir), 'BAD_WEIGHTS', /tensor "w" maps to "\.\.\/\.\.\/etc\/passwd", which is not a file name in/);
  });
});

test('pytorch_model.bin through the strict reader, with a notice', () => {
  const bin = makeTorchZip(simpleSpec({ 'x.weight': { dtype: 'F32', shape: [2, 1], values: [7, 8] }, 'x.ids': { dtype: 'I64', shape: [2], values: [0n, 1n] } }));
  withDir({ 'pytorch_model.bin': bin, 'config.json': '{}' }, (dir) => {
    const r = loadStateDict(dir);
    assert.equal(r.format, 'pytorch');
    assert.deepEqual(r.files, [path.join(dir, 'pytorch_model.bin')]);
    assert.deepEqual([...r.tensors.get('x.weight')!.data], [7, 8]);
    assert.deepEqual(r.tensors.get('x.weight')!.shape, [2, 1]);
    assert.deepEqual([...r.tensors.get('x.ids')!.data], [0, 1]);
    assert.ok(r.notices.some((n) => /strict tensor-only reader/.test(n)));
  });
});

test('a hostile pytorch_model.bin is refused through loadStateDict too', () => {
  withDir({ 'pytorch_model.bin': torchZipFromPickle(maliciousPickle('os.system', 'true')) }, (dir) => {
    const e = expectError(() => loadStateDict(dir), 'UNSUPPORTED', /`os\.system`/);
    assert.ok(e.message.includes(CONVERT_COMMAND));
    assert.ok(e.message.includes(path.join(dir, 'pytorch_model.bin')));
  });
});

test('sharded pytorch_model.bin', () => {
  const a = makeTorchZip({ ...simpleSpec({ 'a.weight': { dtype: 'F32', shape: [1], values: [1] } }), container: 'dict' });
  const b = makeTorchZip({ ...simpleSpec({ 'b.weight': { dtype: 'F32', shape: [1], values: [2] } }), container: 'dict' });
  const map = { 'a.weight': 'pytorch_model-00001-of-00002.bin', 'b.weight': 'pytorch_model-00002-of-00002.bin' };
  withDir({ 'pytorch_model.bin.index.json': index(map), 'pytorch_model-00001-of-00002.bin': a, 'pytorch_model-00002-of-00002.bin': b }, (dir) => {
    const r = loadStateDict(dir);
    assert.equal(r.format, 'pytorch-sharded');
    assert.deepEqual([...r.tensors.entries()].map(([k, t]) => [k, t.data[0]]), [['a.weight', 1], ['b.weight', 2]]);
  });
});

test('TF / Flax checkpoints only: UNSUPPORTED, saying what is accepted and how to convert', () => {
  withDir({ 'tf_model.h5': 'x', 'config.json': '{}' }, (dir) => {
    expectError(() => loadStateDict(dir), 'UNSUPPORTED', /holds only tf_model\.h5/, /model\.safetensors/, /pytorch_model\.bin/, /from_tf=True/, /safe_serialization=True/);
  });
  withDir({ 'flax_model.msgpack': 'x' }, (dir) => {
    expectError(() => loadStateDict(dir), 'UNSUPPORTED', /flax_model\.msgpack/, /from_flax=True/);
  });
});

test('no weights: MISSING_FILE listing what the folder holds', () => {
  withDir({ 'config.json': '{}', 'vocab.txt': '[PAD]\n', 'README.md': '#' }, (dir) => {
    const e = expectError(() => loadStateDict(dir), 'MISSING_FILE', /No model weights in/, /expected model\.safetensors/, /it contains: README\.md, config\.json, vocab\.txt/);
    assert.ok(e.message.includes(dir));
  });
  withDir({}, (dir) => expectError(() => loadStateDict(dir), 'MISSING_FILE', /it is empty/));
  expectError(() => loadStateDict('/no/such/model/dir'), 'MISSING_FILE', /Model folder \/no\/such\/model\/dir does not exist/);
});
