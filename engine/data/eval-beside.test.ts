import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { resolveRunConfig } from '../train/config';
import { findEvalBeside } from './eval-beside';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-eval-beside-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** A folder holding the given files (contents: name → text). */
function folder(name: string, files: Record<string, string>): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { recursive: true });
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

const TSV = 'sentence\tlabel\na fine film\t1\n';

describe('the eval split beside the training file', () => {
  it("GLUE: dev.tsv beside train.tsv (GLUE's test.tsv has no labels)", () => {
    const dir = folder('glue', { 'train.tsv': TSV, 'dev.tsv': TSV, 'test.tsv': 'index\tsentence\n0\ta film\n' });
    assert.deepEqual(findEvalBeside(path.join(dir, 'train.tsv')), { file: path.join(dir, 'dev.tsv'), split: 'dev' });
  });

  it('HF: validation-00000-of-00001.parquet beside train-00000-of-00001.parquet; validation.jsonl beside train.jsonl', () => {
    const dir = folder('hf', { 'train-00000-of-00001.parquet': '', 'validation-00000-of-00001.parquet': '', 'test-00000-of-00001.parquet': '' });
    assert.equal(findEvalBeside(path.join(dir, 'train-00000-of-00001.parquet'))?.file, path.join(dir, 'validation-00000-of-00001.parquet'));
    const j = folder('hf-jsonl', { 'train.jsonl': '{"text":"a","label":1}\n', 'validation.jsonl': '{"text":"b","label":0}\n' });
    assert.equal(findEvalBeside(path.join(j, 'train.jsonl'))?.split, 'validation');
  });

  it('a test split counts only with labels (HF writes -1 for none)', () => {
    const labelled = folder('test-labelled', { 'train.csv': 'text,label\na,1\n', 'test.csv': 'text,label\nb,0\n' });
    assert.equal(findEvalBeside(path.join(labelled, 'train.csv'))?.split, 'test');
    const hf = folder('test-minus-one', { 'train.jsonl': '{"text":"a","label":1}\n', 'test.jsonl': '{"text":"b","label":-1}\n' });
    assert.equal(findEvalBeside(path.join(hf, 'train.jsonl')), undefined);
    const named = folder('test-named-column', { 'train.tsv': 'review\tstars\na\t1\n', 'test.tsv': 'review\tstars\nb\t0\n' });
    assert.equal(findEvalBeside(path.join(named, 'train.tsv'), 'stars')?.split, 'test');
  });

  it('nothing when the training file is not a train split, or the split is ambiguous', () => {
    const dir = folder('other', { 'reviews.tsv': TSV, 'dev.tsv': TSV });
    assert.equal(findEvalBeside(path.join(dir, 'reviews.tsv')), undefined);
    const two = folder('two', { 'train.tsv': TSV, 'dev_matched.tsv': TSV, 'dev_mismatched.tsv': TSV });
    assert.equal(findEvalBeside(path.join(two, 'train.tsv')), undefined);
    const shards = folder('shards', { 'train.parquet': '', 'validation-00000-of-00002.parquet': '', 'validation-00001-of-00002.parquet': '' });
    assert.equal(findEvalBeside(path.join(shards, 'train.parquet')), undefined);
  });

  it('a run config without eval_file uses it; an explicit eval_split or eval_file wins', () => {
    const dir = folder('config', { 'train.tsv': TSV, 'dev.tsv': TSV, 'other.tsv': TSV });
    assert.equal(resolveRunConfig({ model: 'm', train_file: 'train.tsv' }, dir).eval_file, path.join(dir, 'dev.tsv'));
    assert.equal(resolveRunConfig({ model: 'm', train_file: 'train.tsv', eval_split: 0.2 }, dir).eval_file, undefined);
    assert.equal(resolveRunConfig({ model: 'm', train_file: 'train.tsv', eval_file: 'other.tsv' }, dir).eval_file, path.join(dir, 'other.tsv'));
  });
});
