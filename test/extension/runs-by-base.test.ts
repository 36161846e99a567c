import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { baseModelOf, groupByBase, statusCounts, taskOf } from '../../protocol/runs-by-base';

describe('runs grouped by base model', () => {
  it('groups task runs under their base, in order of first appearance, and keeps each run', () => {
    const runs = [
      { runId: 'a', config: { model: '/m/bert-tiny', train_file: '/d/sentiment/train.tsv' } },
      { runId: 'b', config: { model: '/m/other', train_file: '/d/x.csv' } },
      { runId: 'c', config: { model: '/m/bert-tiny/', train_file: '/d/topics.csv' } },
      { runId: 'd', config: { model: './m/bert-tiny', train_file: 'y.csv' } },
    ];
    const groups = groupByBase(runs, (p) => (p.startsWith('/') ? p : `/${p.replace(/^\.\//, '')}`));
    assert.deepEqual(groups.map((g) => [g.key, g.label, g.runs.map((r) => r.runId)]), [
      ['/m/bert-tiny', 'bert-tiny', ['a', 'c', 'd']],
      ['/m/other', 'other', ['b']],
    ]);
  });

  it('tells apart two bases with the same folder name by their parent', () => {
    const groups = groupByBase([
      { runId: 'a', config: { model: '/x/bert' } },
      { runId: 'b', config: { model: '/y/bert' } },
    ]);
    assert.deepEqual(groups.map((g) => g.label), ['x/bert', 'y/bert']);
  });

  it('a run without a model has a group of its own; a distilled student with its own folder is grouped under it', () => {
    assert.equal(baseModelOf(undefined).label, '(no model)');
    assert.equal(baseModelOf({ model: '/teacher-run', distill: { teacher: '/teacher-run', student: '/m/small-bert' } }).key, '/m/small-bert');
    assert.equal(baseModelOf({ model: '/runs/t', distill: { teacher: '/runs/t', student_layers: 2 } }).key, '/runs/t');
    // Once started, the model is the student folder built from the teacher's layers: named after the teacher.
    assert.deepEqual(baseModelOf({ model: '/runs/.students/24666f8159199d14', distill: { teacher: '/runs/teacher-full/', student_layers: 1 } }), {
      key: '/runs/.students/24666f8159199d14',
      label: 'student of teacher-full',
    });
    assert.equal(baseModelOf({ model: 'C:\\m\\bert\\' }).key, 'C:/m/bert');
  });

  it('names the task after the data: a generic file by its folder, any other by its name', () => {
    assert.equal(taskOf({ train_file: '/e/sentiment/train.tsv' }), 'sentiment');
    assert.equal(taskOf({ train_file: '/e/topics/train-small.csv' }), 'topics');
    assert.equal(taskOf({ train_file: '/e/sentiment/reviews.jsonl' }), 'reviews');
    assert.equal(taskOf({ train_file: 'train.csv' }), 'train');
    assert.equal(taskOf({}), '?');
  });

  it('counts statuses, busiest first', () => {
    assert.equal(statusCounts(['finished', 'running', 'finished', 'failed']), '1 running · 2 finished · 1 failed');
    assert.equal(statusCounts([]), '');
  });
});
