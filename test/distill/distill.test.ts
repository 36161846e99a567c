/**
 * Distillation end to end on generated models: a fully fine-tuned teacher run distilled into its own
 * layer 1 (DistilBERT's initialisation checked tensor by tensor), the loss components and teacher
 * agreement in the events, the teacher-vs-student table, the teacher-output cache (reused, and rebuilt when
 * corrupt or stale), raw unlabelled text when the task loss has no weight, and bad input refused before a
 * run folder exists.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { initBackend } from '../../engine/backend/select';
import { PeftStudioError } from '../../engine/errors';
import { readSafetensors } from '../../engine/io/safetensors';
import { loadModel } from '../../engine/model/load';
import type { RunEvent, StartedEvent, StepEvent } from '../../engine/protocol/events';
import { resolveRunConfig } from '../../engine/train/config';
import { exportMerged, loadTrainedModel } from '../../engine/train/export';
import { train } from '../../engine/train/trainer';
import { removeModelDirs, type GeneratedModel } from '../helpers/make-model';
import { makeRows, makeTinyModel, ofType, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

after(() => {
  removeModelDirs();
  removeTempDirs();
});

describe('distillation through the trainer', () => {
  let gen: GeneratedModel;
  let dir: string;
  let trainFile: string;
  let teacherRun: string;
  let events: RunEvent[];
  let studentRun: string;
  const base = () => ({ train_file: trainFile, runs_dir: path.join(dir, 'runs'), max_steps: 4, per_device_train_batch_size: 8, eval_split: 0.25, learning_rate: 1e-3, seed: 1 });

  before(async () => {
    await initBackend();
    gen = makeTinyModel({ seed: 31, dropout: false });
    dir = tempDir('peft-distill-');
    trainFile = writeTsv(path.join(dir, 'train.tsv'), makeRows(32, 8));
    const t = await train(resolveRunConfig({ ...base(), model: gen.dir, method: 'full', output_dir: path.join(dir, 'teacher'), max_steps: 6 }));
    assert.equal(t.status, 'finished', t.reason);
    teacherRun = t.runDir;
    events = [];
    const r = await train(resolveRunConfig({ ...base(), output_dir: path.join(dir, 'student'), distill: { teacher: teacherRun, student_layers: [1], temperature: 2, alpha_kd: 0.7, alpha_task: 0.3 } }), { onEvent: (e) => events.push(e) });
    assert.equal(r.status, 'finished', r.reason);
    studentRun = r.runDir;
  });

  it("the student starts as the teacher's layer 1 with the embeddings and head, tensor for tensor", () => {
    const started = ofType(events, 'started')[0] as StartedEvent;
    assert.deepEqual(started.distill?.studentLayers, [1]);
    const studentDir = (started.config as { model: string }).model;
    const student = readSafetensors(path.join(studentDir, 'model.safetensors')).tensors;
    const config = JSON.parse(fs.readFileSync(path.join(studentDir, 'config.json'), 'utf8'));
    assert.equal(config.num_hidden_layers, 1);
    const teacher = loadTrainedModel(teacherRun);
    try {
      let compared = 0;
      for (const [name, t] of teacher.model.params.entries()) {
        const m = /encoder\.layer\.(\d+)\./.exec(name);
        const target = m ? (m[1] === '1' ? name.replace('.layer.1.', '.layer.0.') : undefined) : name;
        if (target === undefined) {
          assert.ok(!student.has(name.replace(/\.layer\.\d+\./, '.layer.9.')), 'a dropped layer');
          continue;
        }
        const s = student.get(target);
        assert.ok(s, `student lacks ${target}`);
        const a = t.dataSync() as Float32Array;
        assert.ok(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength)), `${target} differs from the teacher's ${name}`);
        compared++;
      }
      assert.equal(compared, student.size);
    } finally {
      teacher.model.dispose();
    }
  });

  it('every step reports its loss components, whose weighted sum is the loss; evals report agreement with the teacher', () => {
    for (const s of ofType(events, 'step') as StepEvent[]) {
      assert.ok(s.components && 'kd' in s.components && 'task' in s.components, JSON.stringify(s.components));
      assert.ok(Math.abs(0.7 * s.components.kd! + 0.3 * s.components.task! - s.loss) < 1e-5, `${s.loss} vs components ${JSON.stringify(s.components)}`);
    }
    const evals = ofType(events, 'eval');
    assert.ok(evals.length > 0);
    for (const e of evals) assert.ok(e.metrics.teacher_agreement! >= 0 && e.metrics.teacher_agreement! <= 1);
    const started = ofType(events, 'started')[0] as StartedEvent;
    assert.ok(started.distill?.teacherMetrics?.accuracy !== undefined, 'the teacher’s eval score, the reference line');
  });

  it('ends with the teacher-vs-student table; the student exports as a plain HF folder of one layer', async () => {
    const summary = JSON.parse(fs.readFileSync(path.join(studentRun, 'distill.json'), 'utf8'));
    assert.ok(summary.student.parameters < summary.teacher.parameters);
    assert.ok(summary.student.msPerExample > 0 && summary.teacher.msPerExample > 0);
    assert.ok(ofType(events, 'log').some((l) => /teacher vs student/.test(l.message)));
    const out = path.join(dir, 'student-merged');
    await exportMerged(studentRun, out);
    const { model } = loadModel(out);
    assert.equal(model.config.numHiddenLayers, 1);
    model.dispose();
  });

  it('reuses the cached teacher outputs, and rebuilds a corrupt cache instead of trusting it', async () => {
    const started = ofType(events, 'started')[0] as StartedEvent;
    const cacheNote = started.notices.find((n) => /teacher outputs computed/.test(n));
    assert.ok(cacheNote, started.notices.join('\n'));
    const file = /cached in (\S+\.safetensors)/.exec(cacheNote)![1]!;
    const again: RunEvent[] = [];
    const cfg = { ...base(), distill: { teacher: teacherRun, student_layers: [1] } };
    const r = await train(resolveRunConfig({ ...cfg, output_dir: path.join(dir, 'again') }), { onEvent: (e) => again.push(e) });
    assert.equal(r.status, 'finished', r.reason);
    assert.ok((ofType(again, 'started')[0] as StartedEvent).notices.some((n) => n.includes('read from the cache')));
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 3] = 0xff; // a NaN-ish float in the data
    bytes[bytes.length - 2] = 0xff;
    bytes[bytes.length - 1] = 0xff;
    fs.writeFileSync(file, bytes);
    const third: RunEvent[] = [];
    const r3 = await train(resolveRunConfig({ ...cfg, output_dir: path.join(dir, 'third') }), { onEvent: (e) => third.push(e) });
    assert.equal(r3.status, 'finished', r3.reason);
    assert.ok((ofType(third, 'started')[0] as StartedEvent).notices.some((n) => /teacher outputs computed/.test(n)), 'a corrupt cache must be rebuilt');
  });

  it('distils on raw, unlabelled text when the task loss has no weight', async () => {
    const raw = path.join(dir, 'raw.tsv');
    fs.writeFileSync(raw, `sentence\n${makeRows(16, 12).map((r) => r.text).join('\n')}\n`);
    const r = await train(resolveRunConfig({ ...base(), train_file: raw, eval_split: 0, output_dir: path.join(dir, 'raw'), distill: { teacher: teacherRun, student_layers: 1, alpha_task: 0, alpha_kd: 1 } }));
    assert.equal(r.status, 'finished', r.reason);
  });

  it('refuses a teacher run without a checkpoint, another vocabulary, and a bad temperature, before a run folder exists', async () => {
    const empty = path.join(dir, 'no-ckpt');
    fs.mkdirSync(empty);
    fs.copyFileSync(path.join(teacherRun, 'config.json'), path.join(empty, 'config.json'));
    // A run that started and has not written a checkpoint yet: its first event only.
    fs.writeFileSync(path.join(empty, 'events.jsonl'), fs.readFileSync(path.join(teacherRun, 'events.jsonl'), 'utf8').split('\n')[0] + '\n');
    const other = makeTinyModel({ seed: 32, vocab: 77 });
    for (const [cfg, re] of [
      [{ distill: { teacher: empty } }, /no checkpoint/],
      [{ model: other.dir, distill: { teacher: teacherRun } }, /tokenize differently/],
    ] as const) {
      const out = path.join(dir, 'refused');
      await assert.rejects(train(resolveRunConfig({ ...base(), ...cfg, output_dir: out })), (e: unknown) => e instanceof PeftStudioError && re.test(e.message));
      assert.equal(fs.existsSync(out), false);
    }
    assert.throws(() => resolveRunConfig({ ...base(), distill: { teacher: teacherRun, temperature: 0 } }), /temperature must be > 0/);
  });
});
