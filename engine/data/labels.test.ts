/**
 * Labels that would silently change the task or allocate without end: one odd label among many never
 * decides the task, class ids taken from the data are bounded, and no label value crashes the planner.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeftStudioError } from '../errors';
import { loadDataset } from './index';
import { MAX_INFERRED_CLASS_ID, planLabels } from './labels';
import { tmpFile } from './testing/tmp';

/** `n` rows alternating labels 0/1, one per line after a header, with `odd` replacing the label on row `at`. */
function tsv(n: number, odd?: { at: number; label: string }): string {
  const rows = Array.from({ length: n }, (_, i) => `sentence ${i}\t${odd && odd.at === i ? odd.label : i % 2}`);
  return `sentence\tlabel\n${rows.join('\n')}\n`;
}

async function badData(p: Promise<unknown>, ...parts: Array<string | RegExp>): Promise<PeftStudioError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof PeftStudioError, `not a PeftStudioError: ${err instanceof Error ? err.stack : err}`);
    assert.equal(err.code, 'BAD_DATA', err.message);
    for (const part of parts) {
      if (typeof part === 'string') assert.ok(err.message.includes(part), `"${part}" not in:\n${err.message}`);
      else assert.match(err.message, part);
    }
    return err;
  }
  assert.fail('expected a rejection');
}

describe('class ids taken from the data are bounded', () => {
  for (const [fmt, body] of [
    ['tsv', tsv(40, { at: 7, label: '100000000' })],
    ['csv', `text,label\n${Array.from({ length: 40 }, (_, i) => `s ${i},${i === 7 ? '100000000' : i % 2}`).join('\n')}\n`],
    ['jsonl', Array.from({ length: 40 }, (_, i) => JSON.stringify({ text: `s ${i}`, label: i === 7 ? 100000000 : i % 2 })).join('\n') + '\n'],
  ] as const) {
    it(`${fmt}: a label of 100000000 is a bad row naming its line, never a head of 10^8 classes`, async () => {
      const f = tmpFile(`huge-id.${fmt}`, body);
      const line = fmt === 'jsonl' ? 8 : 9; // JSONL has no header line
      await badData(loadDataset(f), `${f}:${line}: label 100000000 is not a usable class id`, `0 to ${MAX_INFERRED_CLASS_ID}`);
      const ds = await loadDataset(f, { onBadRow: 'skip' });
      assert.equal(ds.numLabels, 2);
      assert.equal(ds.examples.length, 39);
      assert.deepEqual(ds.badRows.map((b) => b.line), [line]);
    });
  }

  it('JSONL 1e308: a bad row under skip and under fail, never "the dataset has 1e+308 labels" or a RangeError', async () => {
    const f = tmpFile('e308.jsonl', Array.from({ length: 30 }, (_, i) => (i === 3 ? '{"text": "x", "label": 1e308}' : JSON.stringify({ text: `s ${i}`, label: i % 3 }))).join('\n'));
    const err = await badData(loadDataset(f), `${f}:4: label 1e+308 is not a usable class id`);
    assert.doesNotMatch(err.message, /labels \(0–/);
    const ds = await loadDataset(f, { onBadRow: 'skip' });
    assert.equal(ds.numLabels, 3);
  });

  it('ids up to the bound are kept as they are (sparse ids still mean those classes)', async () => {
    const f = tmpFile('sparse.tsv', `sentence\tlabel\na\t0\nb\t${MAX_INFERRED_CLASS_ID}\n`);
    assert.equal((await loadDataset(f)).numLabels, MAX_INFERRED_CLASS_ID + 1);
  });

  it("with the model's number of labels, a huge id is simply out of range", async () => {
    const f = tmpFile('huge-model.tsv', tsv(40, { at: 7, label: '100000000' }));
    await badData(loadDataset(f, { numLabels: 2 }), `${f}:9: label 100000000 is out of range: the model has 2 labels`);
  });
});

describe('one odd label never decides the task', () => {
  for (const odd of ['0.5', '1e3', '2.5']) {
    it(`one ${odd} among 0/1 labels: a bad row (the run stays 2-class classification), not a regression`, async () => {
      const f = tmpFile(`odd-${odd}.tsv`, tsv(100, { at: 10, label: odd }));
      await badData(loadDataset(f), `${f}:12: label '${odd}' is not an integer class id like the other 99 labels`, 'regression');
      const ds = await loadDataset(f, { onBadRow: 'skip' });
      assert.equal(ds.task, 'classification');
      assert.equal(ds.numLabels, 2);
      assert.deepEqual(ds.badRows.map((b) => b.line), [12]);
    });
  }

  for (const odd of ['maybe', 'NaN', 'Infinity', 'true']) {
    it(`one '${odd}' among 0/1 labels: a bad row, not a third class`, async () => {
      const f = tmpFile(`odd-${odd}.tsv`, tsv(100, { at: 10, label: odd }));
      await badData(loadDataset(f), `${f}:12: label '${odd}' is not a class id like the other 99 labels`);
      const ds = await loadDataset(f, { onBadRow: 'skip' });
      assert.equal(ds.task, 'classification');
      assert.equal(ds.numLabels, 2);
      assert.equal(ds.id2label, undefined);
    });
  }

  it("one 'NaN' among regression targets is a bad row, the file stays a regression", async () => {
    const body = `sentence\tscore\n${Array.from({ length: 60 }, (_, i) => `s ${i}\t${i === 5 ? 'NaN' : (i % 7) / 2 + 0.25}`).join('\n')}\n`;
    const f = tmpFile('stsb-nan.tsv', body);
    await badData(loadDataset(f, { columns: { label: 'score' } }), `${f}:7: label 'NaN'`);
    const ds = await loadDataset(f, { onBadRow: 'skip', columns: { label: 'score' } });
    assert.equal(ds.task, 'regression');
    assert.equal(ds.examples.length, 59);
  });

  it('one number among label names is a bad row, not a class of its own', async () => {
    const names = Array.from({ length: 50 }, (_, i) => (i === 4 ? '1' : i % 2 ? 'pos' : 'neg'));
    const f = tmpFile('names-odd.tsv', `sentence\tlabel\n${names.map((l, i) => `s ${i}\t${l}`).join('\n')}\n`);
    await badData(loadDataset(f), `${f}:6: label '1' is a number among 49 label names`);
    const ds = await loadDataset(f, { onBadRow: 'skip' });
    assert.deepEqual(ds.id2label, { 0: 'neg', 1: 'pos' });
  });

  it('many of each kind keep the documented rules: decimals make a regression, names make every label a name', async () => {
    const reg = tmpFile('many-dec.tsv', `sentence\tlabel\n${Array.from({ length: 20 }, (_, i) => `s ${i}\t${i % 2 ? '0.5' : '1'}`).join('\n')}\n`);
    assert.equal((await loadDataset(reg)).task, 'regression');
    const mixed = tmpFile('many-names.tsv', `sentence\tlabel\n${Array.from({ length: 20 }, (_, i) => `s ${i}\t${i % 2 ? 'neutral' : String(i % 4)}`).join('\n')}\n`);
    const ds = await loadDataset(mixed);
    assert.deepEqual(Object.values(ds.id2label!), ['0', '2', 'neutral']);
  });
});

describe('label values that are not scalars', () => {
  it('a struct label holding 64-bit integers (as Parquet delivers them) is reported, not a BigInt crash', () => {
    const struct = { a: 1n, b: [2n] };
    const raws = [...Array.from({ length: 39 }, (_, i) => BigInt(i % 2)), struct];
    for (const opts of [{}, { task: 'classification' as const }]) {
      const plan = planLabels('/data/x.parquet', raws, opts);
      assert.deepEqual(plan.parse(struct), { reason: `label '{"a":"1","b":["2"]}' is not a class id like the other 39 labels, which are numbers` });
      assert.deepEqual(plan.parse(1n), { label: 1 });
    }
    // Among as many names, it is one more name: still no crash.
    assert.doesNotThrow(() => planLabels('/data/x.parquet', [struct, 'a'], {}).parse(struct));
  });
});
