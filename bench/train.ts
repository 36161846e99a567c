/**
 * `npm run bench:train`: one optimizer step (forward, backward, AdamW) of BitFit and, for contrast, of full
 * fine-tuning (every tensor, embedding tables included), per model shape and backend, at batch × seq
 * (default 32 × 128), with peak RSS. Each case runs in its own child process so peak RSS is that case's
 * alone, under a time limit (the pure-JS cpu backend takes hours for the larger shapes). A batch runs as
 * micro-batches when one pass over it would not fit (engine/train/micro-batch.ts); the table says how.
 * When a python3 with torch is present (Debian: python3-torch libopenblas0-openmp) the same steps run in
 * PyTorch in the same benchmark run (each shape's PyTorch cases right after ours, so both meet the same load
 * on a shared machine; both report the median step) and a second table prints both and the ratios. Both sides train with
 * dropout at `--dropout` (default 0.1, HF BERT's, as a fine-tuning run has it; 0 compares the steps without it).
 *   npm run bench:train -- [--shapes BERT-Tiny,BERT-Mini] [--backends wasm,cpu] [--batch 32] [--seq 128] [--iters 2]
 *                          [--micro-batch auto|N] [--dropout 0.1] [--case-limit SECONDS] [--torch-threads 2] [--no-torch]
 *                          [--torch-device cpu|cuda]
 * On a GPU machine `--backends webgpu --torch-device cuda` puts our GPU step next to PyTorch's CUDA one.
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { tf } from '../engine/backend/tf';
import { initBackend, type BackendName } from '../engine/backend/select';
import { installWasmKernels } from '../engine/backend/kernels/unsorted-segment-sum';
import { installNativeKernels } from '../engine/backend/native';
import { BitFit } from '../engine/peft/bitfit';
import { AdamW } from '../engine/train/optim/adamw';
import { computeGradients } from '../engine/train/step';
import { benchOptions, HF_DROPOUT, peakRssMiB, randomBatch, randomModel } from './shapes';

const { values } = parseArgs({
  options: {
    ...benchOptions(2),
    shapes: { type: 'string', default: 'BERT-Tiny,BERT-Mini,BERT-Small,BERT-Base' },
    'micro-batch': { type: 'string', default: 'auto' },
    dropout: { type: 'string', default: String(HF_DROPOUT) },
    'case-limit': { type: 'string', default: '900' },
    // The reference machine's 2 vCPUs; PyTorch would otherwise pick its own count (1 on some machines).
    'torch-threads': { type: 'string', default: String(Math.min(2, os.availableParallelism())) },
    'no-torch': { type: 'boolean' },
    'torch-device': { type: 'string', default: 'cpu' },
  },
});

type Mode = 'bitfit' | 'full';
interface Row {
  shape: string;
  backend: string;
  mode: Mode;
  ok: boolean;
  note?: string;
  msPerStep?: number;
  tokPerS?: number;
  peakRssMiB?: number;
  trainable?: number;
  /** Examples per forward/backward pass (the batch when unsplit). */
  micro?: number;
}

async function runChild(shape: string, backend: BackendName, mode: Mode): Promise<Row> {
  const batch = Number(values.batch);
  const seq = Number(values.seq);
  try {
    await initBackend({ backend });
  } catch (e) {
    return { shape, backend, mode, ok: false, note: /not installed/.test((e as Error).message) ? 'not installed' : 'failed to load' };
  }
  if (backend === 'wasm') installWasmKernels(); // UnsortedSegmentSum: embedding gradients
  // Native matMul kernels on wasm (engine/backend/native/) unless PEFT_STUDIO_NATIVE=0; the row names them.
  const native = backend === 'wasm' ? installNativeKernels() : undefined;
  const shown = native?.active ? `wasm + native (${native.isa}, ${native.threads} threads)` : backend;
  const dropout = Number(values.dropout);
  const model = randomModel(shape, 0, dropout);
  let vars: Map<string, tf.Variable>;
  if (mode === 'bitfit') {
    const m = new BitFit({ biasTerms: ['all'], trainHead: true });
    m.apply(model);
    vars = m.trainable();
  } else {
    vars = new Map();
    // Embedding gradients need UnsortedSegmentSum, which some backends (wasm 4.22) lack: there the
    // contrast is "every weight but the embedding tables", and the table says so.
    const noScatter = !tf.getKernel('UnsortedSegmentSum', tf.getBackend());
    for (const name of model.params.names()) {
      if (noScatter && /_embeddings\.weight$/.test(name)) continue;
      const v = tf.variable(model.params.get(name), true, `${name}@full`);
      model.params.set(name, v);
      vars.set(name, v);
    }
  }
  const optimizer = new AdamW(vars, { lr: 1e-4, weightDecay: 0 });
  const x = randomBatch(batch, seq);
  const tb = { inputs: x, labels: tf.randomUniform([batch], 0, 2, 'int32'), tokens: batch * seq, size: batch };
  const microSetting = values['micro-batch'] === 'auto' ? 'auto' : Number(values['micro-batch']);
  let micro = batch;
  const step = async () => {
    const r = await computeGradients(model, [tb], 'single_label_classification', vars, { training: dropout > 0, seed: 1, microBatchSize: microSetting });
    micro = r.microBatchSize;
    optimizer.step(r.grads, 1e-4);
    tf.dispose([...r.grads.values()]);
  };
  try {
    await step(); // warm-up
    const times: number[] = [];
    for (let i = 0; i < Number(values.iters); i++) {
      const t0 = performance.now();
      await step();
      times.push(performance.now() - t0);
    }
    const ms = median(times);
    let trainable = 0;
    for (const v of vars.values()) trainable += v.size;
    const note = mode === 'full' && !tf.getKernel('UnsortedSegmentSum', tf.getBackend()) ? 'embeddings frozen' : undefined;
    return { shape, backend: shown, mode, ok: true, note, msPerStep: ms, tokPerS: (1000 * batch * seq) / ms, peakRssMiB: peakRssMiB(), trainable, micro };
  } catch (e) {
    return { shape, backend: shown, mode, ok: false, note: String((e as Error).message).split('\n')[0]!.slice(0, 70) };
  }
}

/** The median step: one slow step on a shared machine moves a mean, not this. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main() {
  if (values.child) {
    const [shape, backend, mode] = values.child.split('@') as [string, BackendName, Mode];
    process.stdout.write(JSON.stringify(await runChild(shape, backend, mode)) + '\n');
    return;
  }
  const rows: Row[] = [];
  const torchRows: TorchRow[] = [];
  const py = values['no-torch'] ? undefined : findTorchPython();
  const limit = Number(values['case-limit']);
  // Shapes run smallest first: once a backend's BitFit or full step runs out of time, its larger shapes would too.
  const overLimit = new Set<string>();
  for (const shape of values.shapes!.split(',')) {
    for (const backend of values.backends!.split(',') as BackendName[]) {
      for (const mode of ['bitfit', 'full'] as Mode[]) {
        if (overLimit.has(`${backend}@${mode}`)) {
          rows.push({ shape, backend, mode, ok: false, note: `skipped (a smaller case took over ${limit} s)` });
          continue;
        }
        const args = ['--import', 'tsx', __filename, '--child', `${shape}@${backend}@${mode}`, '--batch', values.batch!, '--seq', values.seq!, '--iters', values.iters!, '--micro-batch', values['micro-batch']!, '--dropout', values.dropout!];
        const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24, timeout: limit * 1000, killSignal: 'SIGKILL' });
        const line = r.stdout.trim().split('\n').pop() ?? '';
        if (r.error && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
          overLimit.add(`${backend}@${mode}`);
          rows.push({ shape, backend, mode, ok: false, note: `over ${limit} s` });
        } else {
          try {
            rows.push(JSON.parse(line) as Row);
          } catch {
            rows.push({ shape, backend, mode, ok: false, note: `crashed: ${(r.stderr || '').trim().split('\n').pop()?.slice(0, 70)}` });
          }
        }
        process.stderr.write('.');
      }
    }
    // PyTorch right after ours on the same shape, so both sides meet the same load on a shared machine.
    if (py) for (const mode of ['bitfit', 'full'] as Mode[]) torchRows.push(runTorchCase(py, shape, mode));
  }
  process.stderr.write('\n');
  console.log(`one training step (forward + backward + AdamW), batch ${values.batch} × seq ${values.seq}, float32, random weights, dropout ${values.dropout}, median of ${values.iters} timed steps after 1 warm-up, micro-batch ${values['micro-batch']}, ${limit} s per case`);
  console.log('passes: how the batch ran (passes × largest pass, BitFit / full FT; per_device_train_micro_batch_size); full FT trains every tensor, embeddings included');
  console.log('| shape | backend | passes | BitFit ms/step | BitFit tokens/s | BitFit peak RSS MiB | full FT ms/step | full FT peak RSS MiB | BitFit / full time (goal ≤ 0.7) |');
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  const key = (r: Row) => `${r.shape}@${r.backend}`;
  for (const k of [...new Set(rows.map(key))]) {
    const b = rows.find((r) => key(r) === k && r.mode === 'bitfit')!;
    const f = rows.find((r) => key(r) === k && r.mode === 'full')!;
    const cell = (r: Row, v?: number, digits = 0) => (r.ok ? v!.toFixed(digits) : r.note ?? 'n/a');
    const ratio = b.ok && f.ok ? (b.msPerStep! / f.msPerStep!).toFixed(2) : '—';
    if (!b.ok && b.note === 'not installed') {
      console.log(`| ${b.shape} | ${b.backend} | | not installed | | | | | |`);
      continue;
    }
    const fullNote = f.ok && f.note ? ` (${f.note})` : '';
    const passes = [b, f].filter((r) => r.ok).map((r) => `${Math.ceil(Number(values.batch) / r.micro!)} × ${r.micro}`);
    console.log(`| ${b.shape} | ${b.backend} | ${[...new Set(passes)].join(' / ')} | ${cell(b, b.msPerStep)} | ${cell(b, b.tokPerS)} | ${cell(b, b.peakRssMiB)} | ${cell(f, f.msPerStep)}${fullNote} | ${cell(f, f.peakRssMiB)} | ${ratio} |`);
  }
  if (!values['no-torch']) printTorchTable(rows, torchRows, py !== undefined);
}

/** A python3 that can import torch (Debian's python3-torch lives under /usr/bin/python3), or undefined. */
function findTorchPython(): string | undefined {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

interface TorchRow {
  shape: string;
  mode: Mode;
  ok: boolean;
  msPerStep?: number;
  tokPerS?: number;
  peakRssMiB?: number;
  torch?: string;
  threads?: number;
  /** torch's intra-op parallel backend, e.g. "OpenMP 201511". */
  parallel?: string;
  blas?: string;
  /** With --torch-device cuda: torch.cuda.max_memory_allocated, MiB. */
  peakGpuMiB?: number;
  note?: string;
}

/** One PyTorch case (bench/torch_step.py), in its own process. */
function runTorchCase(py: string, shape: string, mode: Mode): TorchRow {
  const script = path.join(__dirname, 'torch_step.py');
  const args = [script, shape, mode, values.batch!, values.seq!, values.iters!, values['torch-threads']!, values.dropout!, values['torch-device']!];
  const r = spawnSync(py, args, { encoding: 'utf8', maxBuffer: 1 << 24, timeout: Number(values['case-limit']) * 1000, killSignal: 'SIGKILL' });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  process.stderr.write('.');
  try {
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as TorchRow;
  } catch {
    return { shape, mode, ok: false, note: timedOut ? `over ${values['case-limit']} s` : (r.stderr || 'failed').trim().split('\n').pop()?.slice(0, 70) };
  }
}

/** The PyTorch steps of this run next to ours, with the ratios. */
function printTorchTable(rows: Row[], torchRows: TorchRow[], found: boolean): void {
  if (!found) {
    console.log('\nPyTorch reference: no python3 with torch found — on Debian: apt-get install python3-torch libopenblas0-openmp');
    return;
  }
  const t0 = torchRows.find((r) => r.ok);
  const where = values['torch-device'] === 'cuda' ? `on CUDA (${t0?.parallel ?? 'GPU'})` : `(${t0?.parallel ?? `${values['torch-threads']} threads`}, BLAS: ${t0?.blas ?? '?'})`;
  console.log(`\nPyTorch ${t0?.torch ?? '?'} on the same machine ${where}, same shapes, batch and dropout (PyTorch runs each batch whole); ratio = ours / PyTorch (tokens/s: > 1 is faster than PyTorch)`);
  if (values['torch-device'] !== 'cuda' && t0?.blas && !/openblas-openmp/.test(t0.blas)) console.log('warning: PyTorch is not using the OpenMP build of OpenBLAS — apt-get install libopenblas0-openmp');
  console.log('| shape | ours backend | ours BitFit tokens/s | PyTorch BitFit tokens/s | speed ratio | ours peak RSS MiB | PyTorch peak RSS MiB | RSS ratio (goal ≤ 1.5) | PyTorch BitFit / full time |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const shape of values.shapes!.split(',')) {
    const tb = torchRows.find((r) => r.shape === shape && r.mode === 'bitfit');
    const tf_ = torchRows.find((r) => r.shape === shape && r.mode === 'full');
    const torchRatio = tb?.ok && tf_?.ok ? (tb.msPerStep! / tf_.msPerStep!).toFixed(2) : '—';
    for (const ours of rows.filter((r) => r.shape === shape && r.mode === 'bitfit' && r.note !== 'not installed')) {
      const speed = ours.ok && tb?.ok ? (ours.tokPerS! / tb.tokPerS!).toFixed(2) : '—';
      const rss = ours.ok && tb?.ok ? (ours.peakRssMiB! / tb.peakRssMiB!).toFixed(2) : '—';
      console.log(`| ${shape} | ${ours.backend} | ${ours.ok ? ours.tokPerS!.toFixed(0) : ours.note} | ${tb?.ok ? tb.tokPerS!.toFixed(0) : tb?.note ?? '—'} | ${speed} | ${ours.ok ? ours.peakRssMiB!.toFixed(0) : '—'} | ${tb?.ok ? tb.peakRssMiB!.toFixed(0) : '—'} | ${rss} | ${torchRatio} |`);
    }
  }
  const gpu = torchRows.filter((r) => r.ok && r.peakGpuMiB !== undefined);
  if (gpu.length) console.log(`PyTorch peak GPU memory: ${gpu.map((r) => `${r.shape} ${r.mode} ${r.peakGpuMiB!.toFixed(0)} MiB`).join(', ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
