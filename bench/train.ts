/**
 * `npm run bench:train`: one optimizer step (forward, backward, AdamW) of BitFit and, for contrast, of full
 * fine-tuning, per model shape and backend, at batch × seq (default 32 × 128), with peak RSS. Each case
 * runs in its own child process so peak RSS is that case's alone.
 * When a python3 with torch is present (Debian: python3-torch libopenblas0-openmp) the same steps run in
 * PyTorch in the same benchmark run and a second table prints both and the ratios.
 *   npm run bench:train -- [--shapes BERT-Tiny,BERT-Mini] [--backends wasm,cpu] [--batch 32] [--seq 128] [--iters 2]
 *                          [--torch-threads N] [--no-torch]
 */
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { tf } from '../engine/backend/tf';
import { initBackend, type BackendName } from '../engine/backend/select';
import { installNativeKernels } from '../engine/backend/native';
import { BitFit } from '../engine/peft/bitfit';
import { AdamW } from '../engine/train/optim/adamw';
import { computeGradients } from '../engine/train/step';
import { benchOptions, peakRssMiB, randomBatch, randomModel } from './shapes';

const { values } = parseArgs({
  options: {
    ...benchOptions(2),
    'torch-threads': { type: 'string', default: String(os.availableParallelism()) },
    'no-torch': { type: 'boolean' },
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
}

async function runChild(shape: string, backend: BackendName, mode: Mode): Promise<Row> {
  const batch = Number(values.batch);
  const seq = Number(values.seq);
  try {
    await initBackend({ backend });
  } catch (e) {
    return { shape, backend, mode, ok: false, note: /not installed/.test((e as Error).message) ? 'not installed' : 'failed to load' };
  }
  // Native matMul kernels on wasm (engine/backend/native/) unless PEFT_STUDIO_NATIVE=0; the row names them.
  const native = backend === 'wasm' ? installNativeKernels() : undefined;
  const shown = native?.active ? `wasm + native (${native.isa}, ${native.threads} threads)` : backend;
  const model = randomModel(shape);
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
  const step = async () => {
    const { grads } = await computeGradients(model, [tb], 'single_label_classification', vars, { training: true, seed: 1 });
    optimizer.step(grads, 1e-4);
    tf.dispose([...grads.values()]);
  };
  try {
    await step(); // warm-up
    const iters = Number(values.iters);
    const t0 = performance.now();
    for (let i = 0; i < iters; i++) await step();
    const ms = (performance.now() - t0) / iters;
    let trainable = 0;
    for (const v of vars.values()) trainable += v.size;
    const note = mode === 'full' && !tf.getKernel('UnsortedSegmentSum', tf.getBackend()) ? 'embeddings frozen' : undefined;
    return { shape, backend: shown, mode, ok: true, note, msPerStep: ms, tokPerS: (1000 * batch * seq) / ms, peakRssMiB: peakRssMiB(), trainable };
  } catch (e) {
    return { shape, backend: shown, mode, ok: false, note: String((e as Error).message).split('\n')[0]!.slice(0, 70) };
  }
}

async function main() {
  if (values.child) {
    const [shape, backend, mode] = values.child.split('@') as [string, BackendName, Mode];
    process.stdout.write(JSON.stringify(await runChild(shape, backend, mode)) + '\n');
    return;
  }
  const rows: Row[] = [];
  for (const shape of values.shapes!.split(',')) {
    for (const backend of values.backends!.split(',') as BackendName[]) {
      for (const mode of ['bitfit', 'full'] as Mode[]) {
        const args = ['--import', 'tsx', __filename, '--child', `${shape}@${backend}@${mode}`, '--batch', values.batch!, '--seq', values.seq!, '--iters', values.iters!];
        const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24 });
        const line = r.stdout.trim().split('\n').pop() ?? '';
        try {
          rows.push(JSON.parse(line) as Row);
        } catch {
          rows.push({ shape, backend, mode, ok: false, note: `crashed: ${(r.stderr || '').trim().split('\n').pop()?.slice(0, 70)}` });
        }
        process.stderr.write('.');
      }
    }
  }
  process.stderr.write('\n');
  console.log(`one training step (forward + backward + AdamW), batch ${values.batch} × seq ${values.seq}, float32, random weights, ${values.iters} timed steps after 1 warm-up`);
  console.log('| shape | backend | BitFit ms/step | BitFit tokens/s | BitFit peak RSS MiB | full FT ms/step | full FT peak RSS MiB | BitFit / full time |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  const key = (r: Row) => `${r.shape}@${r.backend}`;
  for (const k of [...new Set(rows.map(key))]) {
    const b = rows.find((r) => key(r) === k && r.mode === 'bitfit')!;
    const f = rows.find((r) => key(r) === k && r.mode === 'full')!;
    const cell = (r: Row, v?: number, digits = 0) => (r.ok ? v!.toFixed(digits) : r.note ?? 'n/a');
    const ratio = b.ok && f.ok ? (b.msPerStep! / f.msPerStep!).toFixed(2) : '—';
    if (!b.ok && b.note === 'not installed') {
      console.log(`| ${b.shape} | ${b.backend} | not installed | | | | | |`);
      continue;
    }
    const fullNote = f.ok && f.note ? ` (${f.note})` : '';
    console.log(`| ${b.shape} | ${b.backend} | ${cell(b, b.msPerStep)} | ${cell(b, b.tokPerS)} | ${cell(b, b.peakRssMiB)} | ${cell(f, f.msPerStep)}${fullNote} | ${cell(f, f.peakRssMiB)} | ${ratio} |`);
  }
  torchReference(rows);
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
  blas?: string;
  note?: string;
}

/** The same steps in PyTorch, side by side in this benchmark run (bench/torch_step.py). */
function torchReference(rows: Row[]): void {
  if (values['no-torch']) return;
  const py = findTorchPython();
  if (!py) {
    console.log('\nPyTorch reference: no python3 with torch found — on Debian: apt-get install python3-torch libopenblas0-openmp');
    return;
  }
  const script = path.join(__dirname, 'torch_step.py');
  const torchRows: TorchRow[] = [];
  for (const shape of values.shapes!.split(',')) {
    for (const mode of ['bitfit', 'full'] as Mode[]) {
      const r = spawnSync(py, [script, shape, mode, values.batch!, values.seq!, values.iters!, values['torch-threads']!], { encoding: 'utf8', maxBuffer: 1 << 24 });
      try {
        torchRows.push(JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as TorchRow);
      } catch {
        torchRows.push({ shape, mode, ok: false, note: (r.stderr || 'failed').trim().split('\n').pop()?.slice(0, 70) });
      }
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  const t0 = torchRows.find((r) => r.ok);
  console.log(`\nPyTorch ${t0?.torch ?? '?'} on the same machine (${t0?.threads ?? values['torch-threads']} threads, BLAS: ${t0?.blas ?? '?'}), same shapes and batch; ratio = ours / PyTorch (tokens/s: > 1 is faster than PyTorch)`);
  console.log('| shape | ours backend | ours BitFit tokens/s | PyTorch BitFit tokens/s | speed ratio | ours peak RSS MiB | PyTorch peak RSS MiB | RSS ratio | PyTorch BitFit / full time |');
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
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
