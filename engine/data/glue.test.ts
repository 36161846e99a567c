/**
 * The real GLUE files in ../shared/glue (see its README): they must load with no options and no bad row.
 * These are the files users will try first, and they carry the traps: MRPC's BOM and stray quotes,
 * SST-2's trailing spaces, RTE's pair columns.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import { loadDataset, makeBatches, paddedTokens } from './index';
import { tmpFile } from './testing/tmp';

const GLUE = resolve(__dirname, '../../../shared/glue');
const glue = (task: string, split: string) => resolve(GLUE, task, `${split}.tsv`);

describe('GLUE files from ../shared/glue', () => {
  before(() => {
    if (!existsSync(GLUE))
      assert.fail(`${GLUE} is missing: these tests need the shared GLUE data checked out beside the repository (../shared/glue)`);
  });

  it('SST-2 dev: 872 examples, 444 positive, labels 0/1 kept', async () => {
    const ds = await loadDataset(glue('SST-2', 'dev'));
    assert.equal(ds.examples.length, 872);
    assert.equal(ds.badRows.length, 0);
    assert.deepEqual(ds.columns, { text: 'text', label: 'label' });
    assert.equal(ds.examples.filter((e) => e.label === 1).length, 444);
    assert.equal(ds.numLabels, 2);
    assert.deepEqual(ds.examples[0], { text: "it 's a charming and often affecting journey . ", label: 1, line: 2 });
  });

  it('RTE dev: 277 sentence pairs, 0 = entailment (146), 1 = not_entailment (131)', async () => {
    const ds = await loadDataset(glue('RTE', 'dev'));
    assert.equal(ds.examples.length, 277);
    assert.equal(ds.badRows.length, 0);
    assert.deepEqual(ds.columns, { text: 'sentence1', textPair: 'sentence2', label: 'label' });
    assert.equal(ds.examples.filter((e) => e.label === 0).length, 146);
    assert.ok(ds.examples.every((e) => e.textPair && e.textPair.length > 0));
  });

  it("RTE dev in GLUE's original layout (index first, string labels) maps to the same ids", async () => {
    // This copy has HF's integer labels; GLUE's original file has `index sentence1 sentence2 label` with
    // names. Rewrite the real rows that way and check both name mappings give the HF ids back.
    const rows = readFileSync(glue('RTE', 'dev'), 'utf8').trimEnd().split('\n').slice(1);
    const names = ['entailment', 'not_entailment'];
    const original = rows.map((r) => {
      const [s1, s2, label, idx] = r.split('\t');
      return [idx, s1, s2, names[Number(label)]].join('\t');
    });
    const f = tmpFile('rte-original.tsv', ['index\tsentence1\tsentence2\tlabel', ...original].join('\n') + '\n');
    const hf = await loadDataset(glue('RTE', 'dev'));
    const mapped = await loadDataset(f, { labelMap: { entailment: 0, not_entailment: 1 } });
    const sorted = await loadDataset(f); // sorted names: entailment < not_entailment
    assert.equal(mapped.examples.length, 277);
    assert.deepEqual(mapped.examples.map((e) => e.label), hf.examples.map((e) => e.label));
    assert.deepEqual(sorted.examples.map((e) => e.label), hf.examples.map((e) => e.label));
    assert.deepEqual(sorted.id2label, { 0: 'entailment', 1: 'not_entailment' });
  });

  it('MRPC dev: 408 pairs, BOM stripped, unbalanced quotes kept, 279 paraphrases', async () => {
    const ds = await loadDataset(glue('MRPC', 'dev'));
    assert.equal(ds.examples.length, 408);
    assert.equal(ds.badRows.length, 0);
    assert.deepEqual(ds.columns, { text: '#1 String', textPair: '#2 String', label: 'Quality' });
    assert.equal(ds.examples.filter((e) => e.label === 1).length, 279);
    assert.equal(ds.examples[0].textPair, '"The foodservice pie business does not fit our long-term growth strategy.');
    assert.equal(ds.examples[407].line, 409);
  });

  it('SST-2 train: 67,349 examples load in reasonable time', async (t) => {
    const start = performance.now();
    const ds = await loadDataset(glue('SST-2', 'train'));
    const ms = performance.now() - start;
    t.diagnostic(`SST-2 train: ${ds.examples.length} examples in ${ms.toFixed(0)} ms`);
    assert.equal(ds.examples.length, 67349);
    assert.equal(ds.badRows.length, 0);
    assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`);
  });

  it('length bucketing pads SST-2 train far less than a plain shuffle', async (t) => {
    // Token counts approximated by word counts + [CLS] and [SEP]; batch size 32, as in GLUE fine-tuning.
    const ds = await loadDataset(glue('SST-2', 'train'));
    const lengths = ds.examples.map((e) => e.text.trim().split(/\s+/).length + 2);
    const real = lengths.reduce((a, b) => a + b, 0);
    const opts = { batchSize: 32, seed: 42, epoch: 0 };
    const plain = paddedTokens(lengths, makeBatches(lengths, { ...opts, bucketing: false }));
    const bucketed = paddedTokens(lengths, makeBatches(lengths, { ...opts, bucketing: true }));
    t.diagnostic(`tokens: real ${real}, padded plain ${plain} (${(plain / real).toFixed(2)}×), bucketed ${bucketed} (${(bucketed / real).toFixed(2)}×)`);
    assert.ok(bucketed >= real);
    assert.ok(bucketed < plain * 0.6, `bucketed ${bucketed} vs plain ${plain}`);
  });
});
