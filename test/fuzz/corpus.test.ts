/**
 * The fuzz corpus: the worst inputs found, kept as regression fixtures (test/fuzz/corpus/). Each is replayed
 * through the library (config.json patches applied to a generated model folder, datasets, tokenizer files,
 * a weights file), and the nastiest through the real `peft-studio` binary, which must exit 1 with one
 * `error:` line naming the file and the field, quickly, never a hang or a stack trace.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { openModel } from '../../engine/api/model-handle';
import { loadDataset } from '../../engine/data';
import { PeftStudioError } from '../../engine/errors';
import { parseSafetensors } from '../../engine/io/safetensors';
import { loadTokenizer } from '../../engine/tokenizer';
import { makeModelDir, removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { removeTempDirs, tempDir } from '../helpers/train-fixtures';

const CORPUS = path.join(__dirname, 'corpus');
const BIN = path.resolve(__dirname, '../../bin/peft-studio.js');
const corpus = (prefix: string) => fs.readdirSync(CORPUS).filter((f) => f.startsWith(prefix)).sort();

after(() => {
  removeModelDirs();
  removeTempDirs();
});

/** A tiny BERT folder with the corpus entry's fields written over its config.json. */
function modelWithConfig(patchFile: string): GeneratedModel {
  const gen = makeModelDir({ family: 'bert', layers: 1, hidden: 8, heads: 2, intermediate: 16, maxPositions: 24 });
  const file = path.join(gen.dir, 'config.json');
  fs.writeFileSync(file, JSON.stringify({ ...JSON.parse(fs.readFileSync(file, 'utf8')), ...JSON.parse(fs.readFileSync(path.join(CORPUS, patchFile), 'utf8')) }));
  return gen;
}

async function refused(p: Promise<unknown>, ...parts: string[]): Promise<PeftStudioError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PeftStudioError, `not a PeftStudioError: ${e instanceof Error ? e.stack : e}`);
    for (const part of parts) assert.ok(e.message.includes(part), `"${part}" not in: ${e.message}`);
    return e;
  }
  assert.fail('expected a refusal');
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}
function cli(args: string[]): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, PEFT_STUDIO_BACKEND: 'cpu' } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}
function cleanError(r: Run, ...parts: string[]): void {
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, r.stderr);
  assert.match(r.stderr, /^error: /m);
  for (const p of parts) assert.ok(r.stderr.includes(p), `"${p}" not in: ${r.stderr}`);
  assert.ok(r.ms < 30_000, `took ${r.ms} ms`);
}

describe('corpus: config.json', () => {
  const field: Record<string, string> = {
    'config-layers-1e12.json': '"num_hidden_layers"',
    'config-layers-2pow31.json': '"num_hidden_layers"',
    'config-eps-negative.json': '"layer_norm_eps"',
    'config-dropout-2.json': '"hidden_dropout_prob"',
    'config-model-type-5.json': '"model_type"',
    'config-gpt2-arch.json': '"architectures"',
    'config-label2id-5.json': '"label2id"',
    'config-id2label-list.json': '"id2label"',
  };
  it('every corpus entry is listed here', () => assert.deepEqual(corpus('config-'), Object.keys(field).sort()));
  for (const f of corpus('config-')) {
    it(`${f}: refused naming config.json and ${field[f]}`, async () => {
      const gen = modelWithConfig(f);
      await refused(openModel(gen.dir, { backend: 'cpu' }), path.join(gen.dir, 'config.json'), field[f]!);
    });
  }
});

describe('corpus: datasets', () => {
  for (const f of corpus('labels-')) {
    it(`${f}: a bad row naming its line under fail; the rest trains as 2-class classification under skip`, async () => {
      const file = path.join(CORPUS, f);
      const e = await refused(loadDataset(file), file);
      assert.equal(e.code, 'BAD_DATA');
      assert.match(e.message, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: label`));
      const ds = await loadDataset(file, { onBadRow: 'skip' });
      assert.equal(ds.task, 'classification');
      assert.equal(ds.numLabels, 2);
      assert.equal(ds.badRows.length, 1);
    });
  }
});

describe('corpus: tokenizer and weights files', () => {
  for (const [f, field] of [['tokenizer-bpe-bad-merge.json', 'merge 4 of "model.merges"'], ['tokenizer-wordpiece-empty-vocab.json', '"model.vocab"']] as const) {
    it(`${f}: refused naming the file and ${field}`, async () => {
      const dir = tempDir();
      fs.copyFileSync(path.join(CORPUS, f), path.join(dir, 'tokenizer.json'));
      await refused(loadTokenizer(dir), path.join(dir, 'tokenizer.json'), field);
    });
  }
  it('weights-header-one-short.safetensors: refused, not read shifted by a byte', () => {
    const file = path.join(CORPUS, 'weights-header-one-short.safetensors');
    assert.throws(() => parseSafetensors(fs.readFileSync(file), file), (e: unknown) => e instanceof PeftStudioError && e.code === 'BAD_WEIGHTS' && e.message.includes('unaccounted for'));
  });
});

describe('corpus through the real CLI', () => {
  it('inspect with num_hidden_layers 10^12 exits 1 at once, naming the field', async () => {
    const gen = modelWithConfig('config-layers-1e12.json');
    cleanError(await cli(['inspect', gen.dir]), 'num_hidden_layers');
  });

  it('predict on weights whose header length is one byte short exits 1 naming model.safetensors', async () => {
    const gen = makeModelDir({ family: 'bert', layers: 1, hidden: 8, heads: 2, intermediate: 16, maxPositions: 24 });
    const file = path.join(gen.dir, 'model.safetensors');
    const bytes = fs.readFileSync(file);
    bytes.writeBigUInt64LE(bytes.readBigUInt64LE(0) - 1n, 0);
    fs.writeFileSync(file, bytes);
    cleanError(await cli(['predict', gen.dir, '--text', 'a good film']), file);
  });

  it('predict with layer_norm_eps -1 exits 1 naming the field, never reaching a kernel', async () => {
    const gen = modelWithConfig('config-eps-negative.json');
    cleanError(await cli(['predict', gen.dir, '--text', 'a good film']), 'layer_norm_eps');
  });

  it('train on a label of 100000000 exits 1 naming file:line; with --on-bad-row skip it trains', async () => {
    const gen = makeModelDir({ family: 'bert', layers: 1, hidden: 8, heads: 2, intermediate: 16, maxPositions: 24 });
    const data = path.join(CORPUS, 'labels-huge-id.tsv');
    const out = tempDir();
    const common = ['train', '--model', gen.dir, '--train', data, '--max-steps', '1', '--eval-split', '0', '--per-device-train-batch-size', '8'];
    cleanError(await cli([...common, '--out', path.join(out, 'a')]), `${data}:9: label 100000000`);
    const ok = await cli([...common, '--out', path.join(out, 'b'), '--on-bad-row', 'skip']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /2 labels/);
  });
});
