/**
 * The status bar's text: a run's progress while it trains, and its last step once it ends — the bar must
 * reach the step the run's cells and dashboard show (54/54), not stop one batch of events short.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { RunManager, type WorkerHandle } from '../../extension/src/core/runManager';
import { forkWorker } from '../../extension/src/core/childWorker';
import { applyEvent, emptyRunView } from '../../protocol/webview';
import { statusContent } from '../../extension/src/statusText';
import type { RunEvent } from '../../engine/protocol/events';
import { makeModelDir, removeModelDirs } from '../helpers/make-model';
import { makeRows, removeTempDirs, tempDir, writeTsv } from '../helpers/train-fixtures';

after(() => {
  removeModelDirs();
  removeTempDirs();
});

const started = { v: 1, type: 'started', runId: 'r', time: '', config: {}, method: 'bitfit', trainable: { count: 1, total: 2, percent: 50, tensors: [] }, backend: { active: 'wasm', attempts: [] }, data: { train: 8, eval: 0, badRows: 0, task: 'classification', numLabels: 2, id2label: {} }, totalSteps: 54, stepsPerEpoch: 18, heatmap: { rows: [], kinds: [], measure: '' }, notices: [] } as unknown as RunEvent;
const step = (n: number): RunEvent => ({ v: 1, type: 'step', step: n, epoch: n / 18, loss: 1 / n, lr: 1e-3, gradNorm: 1, tokensPerSec: 100, time: 0 }) as RunEvent;

describe('status bar text', () => {
  it('a running run shows its step and loss', () => {
    const view = emptyRunView('r', 'run r', 'running');
    for (const e of [started, step(1), step(2)]) applyEvent(view, e);
    assert.equal(statusContent(view, 'auto').text, '$(sync~spin) PEFT 2/54 loss 0.500');
  });

  it('a finished run keeps its last step on the bar: 54/54, with a check', () => {
    const view = emptyRunView('r', 'run r', 'running');
    for (let i = 1; i <= 54; i++) applyEvent(view, i === 1 ? started : step(i - 1));
    applyEvent(view, step(54));
    applyEvent(view, { v: 1, type: 'finished', step: 54, time: '', seconds: 3 } as RunEvent);
    view.status = 'finished';
    assert.equal(statusContent(view, 'auto').text, `$(check) PEFT 54/54 loss ${(1 / 54).toFixed(3)}`);
    assert.match(statusContent(view, 'auto').tooltip, /finished on wasm/);
  });

  it('no run: the backend', () => {
    assert.equal(statusContent(undefined, 'wasm').text, '$(beaker) PEFT: wasm');
  });

  it('a real run, relayed in batches: the text after its end names its last step', async () => {
    const model = makeModelDir({ family: 'bert', layers: 1, hidden: 16, heads: 2, intermediate: 32 });
    const data = tempDir('peft-status-');
    const spawn = (): WorkerHandle => forkWorker(path.resolve(__dirname, '../../engine/worker/main.ts'), { execArgv: ['--import', 'tsx'], env: { ...process.env, PEFT_STUDIO_BACKEND: 'cpu' } });
    const runs = new RunManager({ runsDir: path.join(data, 'runs'), spawn, throttleMs: 200 });
    const id = runs.enqueue({ model: model.dir, train_file: writeTsv(path.join(data, 'train.tsv'), makeRows(48)), per_device_train_batch_size: 8, eval_split: 0, max_steps: 6, backend: 'cpu' });
    await new Promise<void>((resolve) => runs.onDidChange((c) => c.kind === 'status' && c.runId === id && c.status === 'finished' && resolve()));
    assert.match(statusContent(runs.get(id)!.view, 'auto').text, /^\$\(check\) PEFT 6\/6 loss \d/);
    runs.dispose();
  });
});
