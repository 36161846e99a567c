/**
 * The extension's run manager against real worker processes (the engine's worker, from source): queueing,
 * event relay, control over IPC, a killed worker, and restoring runs from their folders after a "reload".
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { readEvents } from '../../engine/train/run-dir';
import { RunManager, type RunChange, type WorkerHandle } from '../../extension/src/core/runManager';
import { makeModelDir, removeModelDirs } from '../helpers/make-model';
import { forkWorker } from '../../extension/src/core/childWorker';
import { makeRows, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

const WORKER = path.resolve(__dirname, '../../engine/worker/main.ts');

function spawnSourceWorker(): WorkerHandle {
  return forkWorker(WORKER, { execArgv: ['--import', 'tsx'], env: { ...process.env, PEFT_STUDIO_BACKEND: 'cpu' } });
}

const model = makeModelDir({ family: 'bert', layers: 1, hidden: 16, heads: 2, intermediate: 32 });
const data = tempDir('peft-rm-');
const trainFile = writeTsv(path.join(data, 'train.tsv'), makeRows(64));
const baseConfig = { model: model.dir, train_file: trainFile, per_device_train_batch_size: 8, eval_split: 0.25, bias_change_steps: 2, backend: 'cpu' };

function waitFor(runs: RunManager, pred: (c: RunChange) => boolean, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('timed out waiting for a run change')), timeoutMs);
    const sub = runs.onDidChange((c) => {
      if (pred(c)) {
        clearTimeout(t);
        sub.dispose();
        resolve();
      }
    });
  });
}

after(() => {
  removeModelDirs();
  removeTempDirs();
});

describe('run manager', () => {
  const runsDir = path.join(data, 'runs');

  it('runs one at a time, queues the next, relays events in batches and records them on disk', async () => {
    const runs = new RunManager({ runsDir, spawn: spawnSourceWorker, throttleMs: 30 });
    const batches: RunChange[] = [];
    runs.onDidChange((c) => batches.push(c));
    const a = runs.enqueue({ ...baseConfig, max_steps: 6 }, 'first');
    const b = runs.enqueue({ ...baseConfig, max_steps: 4, seed: 7 }, 'second');
    assert.equal(runs.get(a)!.view.status, 'running');
    assert.equal(runs.get(b)!.view.status, 'queued', 'a second run waits for the first');
    await waitFor(runs, (c) => c.kind === 'status' && c.runId === b && c.status === 'finished');
    for (const id of [a, b]) {
      const rec = runs.get(id)!;
      assert.equal(rec.view.status, 'finished');
      const onDisk = readEvents(rec.runDir).events;
      const relayed = batches.filter((c): c is Extract<RunChange, { kind: 'events' }> => c.kind === 'events' && c.runId === id).flatMap((c) => c.events);
      assert.deepEqual(relayed.map((e) => e.type), onDisk.map((e) => e.type), 'every event on disk was relayed, in order');
      assert.equal(rec.view.steps.step.length, rec.view.started!.totalSteps);
      assert.ok(rec.view.changes.length >= 2);
      assert.ok(rec.view.changes.every((c) => c.type === 'change' && typeof c.measure === 'string'));
    }
    const eventBatches = batches.filter((c) => c.kind === 'events' && c.runId === a).length;
    const eventCount = readEvents(runs.get(a)!.runDir).events.length;
    assert.ok(eventBatches < eventCount, `events were batched (${eventCount} events in ${eventBatches} batches)`);
    // The second run started only after the first had ended.
    const startedB = batches.findIndex((c) => c.kind === 'status' && c.runId === b && c.status === 'running');
    const endedA = batches.findIndex((c) => c.kind === 'status' && c.runId === a && c.status === 'finished');
    assert.ok(endedA >= 0 && startedB > endedA);
  });

  it('pauses, resumes and stops a worker over IPC', async () => {
    const runs = new RunManager({ runsDir, spawn: spawnSourceWorker, throttleMs: 10 });
    const id = runs.enqueue({ ...baseConfig, max_steps: 400 });
    await waitFor(runs, (c) => c.kind === 'events' && c.runId === id && c.events.some((e) => e.type === 'step'));
    runs.control(id, 'pause');
    await waitFor(runs, (c) => c.kind === 'status' && c.runId === id && c.status === 'paused');
    const stepAtPause = runs.get(id)!.view.steps.step.at(-1)!;
    await new Promise((r) => setTimeout(r, 400));
    assert.ok(runs.get(id)!.view.steps.step.at(-1)! <= stepAtPause + 1, 'no progress while paused');
    runs.control(id, 'resume');
    await waitFor(runs, (c) => c.kind === 'status' && c.runId === id && c.status === 'running');
    runs.control(id, 'stop');
    await waitFor(runs, (c) => c.kind === 'status' && c.runId === id && c.status === 'stopped');
    const rec = runs.get(id)!;
    assert.ok(rec.view.steps.step.at(-1)! < 400);
    assert.ok(fs.readdirSync(path.join(rec.runDir, 'checkpoints')).some((d) => d.startsWith('step-')), 'stopping writes a checkpoint');
  });

  it('survives a killed worker: the run fails with its last log lines, on disk too, and the next run still starts', async () => {
    const handles: WorkerHandle[] = [];
    const runs = new RunManager({ runsDir, spawn: () => { const h = spawnSourceWorker(); handles.push(h); return h; }, throttleMs: 10 });
    const doomed = runs.enqueue({ ...baseConfig, max_steps: 400 });
    const next = runs.enqueue({ ...baseConfig, max_steps: 2 });
    await waitFor(runs, (c) => c.kind === 'events' && c.runId === doomed && c.events.some((e) => e.type === 'step'));
    handles[0]!.kill('SIGKILL');
    await waitFor(runs, (c) => c.kind === 'status' && c.runId === doomed && c.status === 'failed');
    const rec = runs.get(doomed)!;
    assert.match(rec.view.end!.reason!, /killed \(SIGKILL\)/);
    const last = readEvents(rec.runDir).events.at(-1)!;
    assert.equal(last.type, 'failed', 'the verdict is written to events.jsonl');
    await waitFor(runs, (c) => c.kind === 'status' && c.runId === next && c.status === 'finished');
  });

  it('reports a run that cannot start (bad data) as failed with the engine\'s message', async () => {
    const runs = new RunManager({ runsDir, spawn: spawnSourceWorker, throttleMs: 10 });
    const bad = path.join(data, 'bad.tsv');
    fs.writeFileSync(bad, 'sentence\tlabel\ngood\t1\n\t0\n');
    const id = runs.enqueue({ ...baseConfig, train_file: bad });
    await waitFor(runs, (c) => c.kind === 'status' && c.runId === id && c.status === 'failed');
    assert.match(runs.get(id)!.view.end!.reason!, /bad\.tsv:3/);
  });

  it('restores every run from its folder, as a reloaded window would', () => {
    const before = new RunManager({ runsDir, spawn: spawnSourceWorker });
    before.restore();
    const restored = before.list();
    assert.ok(restored.length >= 6);
    for (const r of restored) {
      const events = readEvents(r.runDir).events;
      const end = events.filter((e) => e.type === 'finished' || e.type === 'stopped' || e.type === 'failed').at(-1);
      assert.equal(r.view.status, end ? end.type : 'stopped', r.runId);
      assert.equal(r.view.steps.step.length, events.filter((e) => e.type === 'step').length);
    }
  });
});
