/**
 * Parquet through hyparquet. The fixture is written by testing/tiny-parquet.ts (no Parquet writer is
 * installed); it has what Hub files have that the loader must cope with: int64 labels (read as bigint),
 * doubles, UTF-8 strings and nulls.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeftStudioError } from '../errors';
import { loadDataset } from './index';
import { formatBadRow } from './load';
import { writeParquet } from './testing/tiny-parquet';
import { tmpFile, tmpPath } from './testing/tmp';

describe('Parquet', () => {
  const file = tmpPath('train.parquet');
  writeParquet(file, [
    { name: 'idx', type: 'int64', values: [0, 1, 2, 3, 4] },
    { name: 'sentence', type: 'string', values: ['très bien', 'bad', null, 'fine', 'meh'] },
    { name: 'label', type: 'int64', values: [1, 0, 1, null, 5] },
  ]);

  it('reads rows with int64 labels as numbers; line is the 0-based row index', async () => {
    const ds = await loadDataset(file, { onBadRow: 'skip', numLabels: 2 });
    assert.equal(ds.format, 'parquet');
    assert.deepEqual(ds.columns, { text: 'sentence', label: 'label' });
    assert.deepEqual(ds.examples, [
      { text: 'très bien', label: 1, line: 0 },
      { text: 'bad', label: 0, line: 1 },
    ]);
    assert.deepEqual(ds.badRows, [
      { file, line: 2, reason: "empty text (column 'sentence')" },
      { file, line: 3, reason: "missing label (column 'label')" },
      { file, line: 4, reason: 'label 5 is out of range: the model has 2 labels (0–1)' },
    ]);
    assert.equal(formatBadRow(ds.badRows[0], ds.format), `${file} row 2: empty text (column 'sentence')`);
  });

  it("under 'fail' names the rows as 'file row N'", async () => {
    await assert.rejects(loadDataset(file, { numLabels: 2 }), (err: PeftStudioError) => {
      assert.equal(err.code, 'BAD_DATA');
      assert.ok(err.message.includes(`${file} row 3: missing label`), err.message);
      return true;
    });
  });

  it('regression targets from a double column, columns chosen by index', async () => {
    const f = tmpPath('stsb.parquet');
    writeParquet(f, [
      { name: 's1', type: 'string', values: ['a', 'b'] },
      { name: 's2', type: 'string', values: ['c', 'd'] },
      { name: 'target', type: 'double', values: [4.25, 0.5] },
    ]);
    const ds = await loadDataset(f, { columns: { text: 0, textPair: 1 } });
    assert.equal(ds.task, 'regression');
    assert.deepEqual(ds.examples.map((e) => [e.text, e.textPair, e.label]), [['a', 'c', 4.25], ['b', 'd', 0.5]]);
  });

  it('a file that is not Parquet is BAD_DATA naming the file', async () => {
    const f = tmpFile('fake.parquet', 'text,label\nnot parquet,1\n');
    await assert.rejects(loadDataset(f), (err: PeftStudioError) => err.code === 'BAD_DATA' && err.message.startsWith(`${f}: cannot read Parquet`));
  });
});
