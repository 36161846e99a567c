/**
 * `npm run bench:train`: one optimizer step (forward, backward, AdamW) of each training method — full
 * fine-tuning (every tensor, embedding tables included), BitFit, LoRA, bottleneck adapters, prompt and prefix
 * tuning — per model shape and backend, at batch × seq (default 32 × 128), with peak RSS. Every method is
 * built through the method registry from a spec (`{ name: 'lora', r: 8, … }`) and applied as a run applies
 * it (engine/peft/registry.ts), so any registered method can be a row; a method this build does not
 * register is skipped with the reason. Each case runs in its own child process so peak RSS is that case's
 * alone, under a time limit (the pure-JS cpu backend takes hours for the larger shapes). A batch runs as
 * micro-batches when one pass over it would not fit (engine/train/micro-batch.ts); the table says how.
 * When a python3 with torch is present (Debian: python3-torch libopenblas0-openmp) the same steps run in
 * PyTorch in the same benchmark run (each shape's PyTorch cases right after ours, so both meet the same load
 * on a shared machine; both report the median step) and a second table prints both and the ratios; bench/torch_step.py
 * writes each method's path by hand (LoRA's low-rank term, the adapters, virtual tokens), with the same settings.
 * Both sides train with dropout at `--dropout` (default 0.1, HF BERT's, as a fine-tuning run has it; 0 compares
 * the steps without it).
 *   npm run bench:train -- [--methods full,bitfit,lora-qv,…] [--shapes BERT-Tiny,BERT-Mini] [--backends wasm,cpu] [--batch 32] [--seq 128] [--iters 2]
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
import { createPeftMethod } from '../engine/peft/registry';
import type { MethodSpec } from '../engine/peft/types';
import { AdamW } from '../engine/train/optim/adamw';
import { computeGradients } from '../engine/train/step';
import { DEFAULT_METHODS, resolveCase, torchRecipe } from './methods';
import { benchOptions, HF_DROPOUT, peakRssMiB, randomBatch, randomModel } from './shapes';

const { values } = parseArgs({
  options: {
    ...benchOptions(2),
    shapes: { type: 'string', default: 'BERT-Tiny,BERT-Mini,BERT-Small,BERT-Base' },
    methods: { type: 'string', default: DEFAULT_METHODS },
    'micro-batch': { type: 'string', default: 'auto' },
    dropout: { type: 'string', default: String(HF_DROPOUT) },
    'case-limit': { type: 'string', default: '900' },
    // The reference machine's 2 vCPUs; PyTorch would otherwise pick its own count (1 on some machines).
    'torch-threads': { type: 'string', default: String(Math.min(2, os.availableParallelism())) },
    'no-torch': { type: 'boolean' },
    'torch-device': { type: 'string', default: 'cpu' },
    /** The child's resolved method spec (JSON). */
    spec: { type: 'string' },
  },
});

interface Row {
  shape: string;
  backend: string;
  /** The method row (`lora-qv`). */
  method: string;
  ok: boolean;
  note?: string;
  msPerStep?: number;
  /** Process CPU time (user + system, all threads) per step, median: less moved by other load than wall time. */
  cpuMsPerStep?: number;
  tokPerS?: number;
  peakRssMiB?: number;
  trainable?: number;
  /** Examples per forward/backward pass (the batch when unsplit). */
  micro?: number;
}

async function runChild(shape: string, backend: BackendName, method: string, spec: MethodSpec): Promise<Row> {
  const batch = Number(values.batch);
  const seq = Number(values.seq);
  try {
    await initBackend({ backend });
  } catch (e) {
    return { shape, backend, method, ok: false, note: /not installed/.test((e as Error).message) ? 'not installed' : 'failed to load' };
  }
  if (backend === 'wasm') installWasmKernels(); // UnsortedSegmentSum: embedding gradients
  // Native matMul kernels on wasm (engine/backend/native/) unless PEFT_STUDIO_NATIVE=0; the row names them.
  const native = backend === 'wasm' ? installNativeKernels() : undefined;
  const shown = native?.active ? `wasm + native (${native.isa}, ${native.threads} threads)` : backend;
  const dropout = Number(values.dropout);
  const model = randomModel(shape, 0, dropout);
  // As a run builds it: the method from its spec, applied to the model (trainable tensors and hooks).
  const m = createPeftMethod(spec);
  m.apply(model, { seed: 0, notices: [] });
  const vars = m.trainable();
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
    const cpu: number[] = [];
    for (let i = 0; i < Number(values.iters); i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await step();
      times.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    const ms = median(times);
    let trainable = 0;
    for (const v of vars.values()) trainable += v.size;
    return { shape, backend: shown, method, ok: true, msPerStep: ms, cpuMsPerStep: median(cpu), tokPerS: (1000 * batch * seq) / ms, peakRssMiB: peakRssMiB(), trainable, micro };
  } catch (e) {
    return { shape, backend: shown, method, ok: false, note: String((e as Error).message).split('\n')[0]!.slice(0, 70) };
  }
}

/** The median step: one slow step on a shared machine moves a mean, not this. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main() {
  if (values.child) {
    const [shape, backend, method] = values.child.split('@') as [string, BackendName, string];
    process.stdout.write(JSON.stringify(await runChild(shape, backend, method, JSON.parse(values.spec!) as MethodSpec)) + '\n');
    return;
  }
  const rows: Row[] = [];
  const torchRows: TorchRow[] = [];
  const py = values['no-torch'] ? undefined : findTorchPython();
  const limit = Number(values['case-limit']);
  const methods = values.methods!.split(',').map((m) => m.trim()).filter(Boolean);
  // Methods this build lacks (or whose settings it refuses) are skipped with the reason, before anything runs.
  const resolved = new Map(methods.map((m) => [m, resolveCase(m)] as const));
  const skipped = methods.filter((m) => 'skip' in resolved.get(m)!);
  for (const m of skipped) process.stderr.write(`${m}: ${(resolved.get(m) as { skip: string }).skip}\n`);
  // Shapes run smallest first: once a backend's method runs out of time, its larger shapes would too.
  const overLimit = new Set<string>();
  for (const shape of values.shapes!.split(',')) {
    for (const method of methods) {
      const r = resolved.get(method)!;
      if ('skip' in r) continue;
      for (const backend of values.backends!.split(',') as BackendName[]) {
        if (overLimit.has(`${backend}@${method}`)) {
          rows.push({ shape, backend, method, ok: false, note: `skipped (a smaller case took over ${limit} s)` });
          continue;
        }
        const args = ['--import', 'tsx', __filename, '--child', `${shape}@${backend}@${method}`, '--spec', JSON.stringify(r.spec), '--batch', values.batch!, '--seq', values.seq!, '--iters', values.iters!, '--micro-batch', values['micro-batch']!, '--dropout', values.dropout!];
        const c = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24, timeout: limit * 1000, killSignal: 'SIGKILL' });
        const line = c.stdout.trim().split('\n').pop() ?? '';
        if (c.error && (c.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
          overLimit.add(`${backend}@${method}`);
          rows.push({ shape, backend, method, ok: false, note: `over ${limit} s` });
        } else {
          try {
            rows.push(JSON.parse(line) as Row);
          } catch {
            rows.push({ shape, backend, method, ok: false, note: `crashed: ${(c.stderr || '').trim().split('\n').pop()?.slice(0, 70)}` });
          }
        }
        process.stderr.write('.');
      }
      // PyTorch right after ours on the same shape and method, so both sides meet the same load on a shared machine.
      if (py) torchRows.push(runTorchCase(py, shape, method, r.spec));
    }
  }
  process.stderr.write('\n');
  console.log(`one training step (forward + backward + AdamW), batch ${values.batch} × seq ${values.seq}, float32, random weights, dropout ${values.dropout}, median of ${values.iters} timed steps after 1 warm-up, micro-batch ${values['micro-batch']}, ${limit} s per case`);
  console.log('passes: how the batch ran (passes × largest pass; per_device_train_micro_batch_size); full FT trains every tensor, embeddings included');
  for (const m of skipped) console.log(`${m}: ${(resolved.get(m) as { skip: string }).skip}`);
  console.log('CPU ms/step: the process CPU time (all threads) per step, median; on a loaded machine it moves less than wall time (it includes the thread pool spin-waits)');
  console.log('| shape | backend | method | trainable | passes | ms/step | CPU ms/step | tokens/s | peak RSS MiB | step / BitFit step (goal ≤ 1.3: LoRA, adapters) | CPU time / BitFit CPU time |');
  console.log('| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  const cell = (r: Row, v?: number, digits = 0) => (r.ok ? v!.toFixed(digits) : r.note ?? 'n/a');
  for (const shape of values.shapes!.split(',')) {
    for (const backend of [...new Set(rows.filter((r) => r.shape === shape).map((r) => r.backend))]) {
      const here = rows.filter((r) => r.shape === shape && r.backend === backend);
      if (here.every((r) => r.note === 'not installed')) {
        console.log(`| ${shape} | ${backend} | | | | not installed | | | | | |`);
        continue;
      }
      const bitfit = here.find((r) => r.method === 'bitfit' && r.ok);
      for (const r of here) {
        const ratio = r.ok && bitfit ? (r.msPerStep! / bitfit.msPerStep!).toFixed(2) : '—';
        const cpuRatio = r.ok && bitfit ? (r.cpuMsPerStep! / bitfit.cpuMsPerStep!).toFixed(2) : '—';
        const passes = r.ok ? `${Math.ceil(Number(values.batch) / r.micro!)} × ${r.micro}` : '';
        console.log(`| ${shape} | ${r.backend} | ${r.method} | ${r.ok ? r.trainable : ''} | ${passes} | ${cell(r, r.msPerStep)} | ${cell(r, r.cpuMsPerStep)} | ${cell(r, r.tokPerS)} | ${cell(r, r.peakRssMiB)} | ${ratio} | ${cpuRatio} |`);
      }
    }
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
  /** The method row (`lora-qv`). */
  method: string;
  ok: boolean;
  msPerStep?: number;
  /** Process CPU time per step (time.process_time, all threads), median. */
  cpuMsPerStep?: number;
  tokPerS?: number;
  peakRssMiB?: number;
  trainable?: number;
  torch?: string;
  threads?: number;
  /** torch's intra-op parallel backend, e.g. "OpenMP 201511". */
  parallel?: string;
  blas?: string;
  /** With --torch-device cuda: torch.cuda.max_memory_allocated, MiB. */
  peakGpuMiB?: number;
  note?: string;
}

/** One PyTorch case (bench/torch_step.py), in its own process, built from the spec our side ran. */
function runTorchCase(py: string, shape: string, method: string, spec: MethodSpec): TorchRow {
  const recipe = torchRecipe(spec);
  if (!recipe) return { shape, method, ok: false, note: 'no PyTorch version of these settings' };
  const script = path.join(__dirname, 'torch_step.py');
  const args = [script, shape, recipe, values.batch!, values.seq!, values.iters!, values['torch-threads']!, values.dropout!, values['torch-device']!];
  const r = spawnSync(py, args, { encoding: 'utf8', maxBuffer: 1 << 24, timeout: Number(values['case-limit']) * 1000, killSignal: 'SIGKILL' });
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  process.stderr.write('.');
  try {
    return { ...(JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as TorchRow), method };
  } catch {
    return { shape, method, ok: false, note: timedOut ? `over ${values['case-limit']} s` : (r.stderr || 'failed').trim().split('\n').pop()?.slice(0, 70) };
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
  console.log(`\nPyTorch ${t0?.torch ?? '?'} on the same machine ${where}, same shapes, batch, dropout and method settings (PyTorch runs each batch whole); ratio = ours / PyTorch (tokens/s: > 1 is faster than PyTorch)`);
  if (values['torch-device'] !== 'cuda' && t0?.blas && !/openblas-openmp/.test(t0.blas)) console.log('warning: PyTorch is not using the OpenMP build of OpenBLAS — apt-get install libopenblas0-openmp');
  console.log('| shape | method | ours backend | ours tokens/s | PyTorch tokens/s | speed ratio (goal ≥ 1.0) | CPU-time ratio (PyTorch / ours) | ours peak RSS MiB | PyTorch peak RSS MiB | RSS ratio (goal ≤ 1.0) | PyTorch step / PyTorch BitFit step |');
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const mismatched: string[] = [];
  for (const shape of values.shapes!.split(',')) {
    const torchBitfit = torchRows.find((r) => r.shape === shape && r.method === 'bitfit' && r.ok);
    for (const t of torchRows.filter((r) => r.shape === shape)) {
      const torchRatio = t.ok && torchBitfit ? (t.msPerStep! / torchBitfit.msPerStep!).toFixed(2) : '—';
      for (const ours of rows.filter((r) => r.shape === shape && r.method === t.method && r.note !== 'not installed')) {
        const speed = ours.ok && t.ok ? (ours.tokPerS! / t.tokPerS!).toFixed(2) : '—';
        const rss = ours.ok && t.ok ? (ours.peakRssMiB! / t.peakRssMiB!).toFixed(2) : '—';
        const cpu = ours.ok && t.ok && t.cpuMsPerStep ? (t.cpuMsPerStep / ours.cpuMsPerStep!).toFixed(2) : '—';
        // Both sides must train the same tensors for the comparison to mean anything.
        if (ours.ok && t.ok && ours.trainable !== t.trainable) mismatched.push(`${shape} ${t.method}: ours ${ours.trainable}, PyTorch ${t.trainable}`);
        console.log(`| ${shape} | ${t.method} | ${ours.backend} | ${ours.ok ? ours.tokPerS!.toFixed(0) : ours.note} | ${t.ok ? t.tokPerS!.toFixed(0) : t.note ?? '—'} | ${speed} | ${cpu} | ${ours.ok ? ours.peakRssMiB!.toFixed(0) : '—'} | ${t.ok ? t.peakRssMiB!.toFixed(0) : '—'} | ${rss} | ${torchRatio} |`);
      }
    }
  }
  if (mismatched.length) console.log(`warning: trainable counts differ (${mismatched.join('; ')})`);
  const gpu = torchRows.filter((r) => r.ok && r.peakGpuMiB !== undefined);
  if (gpu.length) console.log(`PyTorch peak GPU memory: ${gpu.map((r) => `${r.shape} ${r.method} ${r.peakGpuMiB!.toFixed(0)} MiB`).join(', ')}`);
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
