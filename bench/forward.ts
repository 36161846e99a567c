/**
 * `npm run bench:forward`: forward-pass throughput and peak RSS per model shape and backend, as a table.
 * Each (shape, backend) runs in its own child process so peak RSS is that case's alone; webgpu's runs on
 * this machine's GPU, or where there is none on SwiftShader (WebGPU emulated on the CPU: a correctness
 * check, its numbers say nothing about GPU speed).
 *   npm run bench:forward -- [--shapes BERT-Tiny,BERT-Mini] [--backends wasm,cpu] [--batch 32] [--seq 128] [--iters 3]
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { tf } from '../engine/backend/tf';
import { initBackend, type BackendName } from '../engine/backend/select';
import { webgpuChildEnv, type WebGpuChild } from '../engine/backend/webgpu-swiftshader';
import { benchOptions, peakRssMiB, randomBatch, randomModel } from './shapes';

const { values } = parseArgs({ options: benchOptions(3) });

interface Row {
  shape: string;
  backend: string;
  ok: boolean;
  note?: string;
  msPerBatch?: number;
  seqPerS?: number;
  tokPerS?: number;
  peakRssMiB?: number;
}

async function runChild(shape: string, backend: BackendName): Promise<Row> {
  const batch = Number(values.batch);
  const seq = Number(values.seq);
  try {
    await initBackend({ backend });
  } catch (e) {
    const msg = (e as Error).message;
    return { shape, backend, ok: false, note: /not installed/.test(msg) ? 'not installed' : msg.slice(0, 80) };
  }
  const model = randomModel(shape);
  const x = randomBatch(batch, seq);
  const once = async () => {
    const logits = tf.tidy(() => model.forward(x).logits!);
    await logits.data();
    logits.dispose();
  };
  await once(); // warm-up: kernel compilation, allocator growth
  const iters = Number(values.iters);
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await once();
  const ms = (performance.now() - t0) / iters;
  return { shape, backend, ok: true, msPerBatch: ms, seqPerS: (1000 * batch) / ms, tokPerS: (1000 * batch * seq) / ms, peakRssMiB: peakRssMiB() };
}

/** The environment each backend's child runs in: webgpu's may point Vulkan at SwiftShader. */
async function childEnv(backend: BackendName, webgpu: () => Promise<WebGpuChild>): Promise<{ env: NodeJS.ProcessEnv; label: string } | { reason: string }> {
  if (backend !== 'webgpu') return { env: process.env, label: backend };
  const w = await webgpu();
  return w.ok ? { env: w.env, label: w.software ? 'webgpu (SwiftShader)' : 'webgpu' } : { reason: w.reason };
}

async function main() {
  if (values.child) {
    const [shape, backend] = values.child.split('@') as [string, BackendName];
    process.stdout.write(JSON.stringify(await runChild(shape, backend)) + '\n');
    return;
  }
  const rows: Row[] = [];
  let webgpu: Promise<WebGpuChild> | undefined;
  const probeOnce = () => (webgpu ??= webgpuChildEnv());
  for (const shape of values.shapes!.split(',')) {
    for (const backend of values.backends!.split(',') as BackendName[]) {
      const where = await childEnv(backend, probeOnce);
      if ('reason' in where) {
        rows.push({ shape, backend, ok: false, note: where.reason.slice(0, 80) });
        continue;
      }
      const args = ['--import', 'tsx', __filename, '--child', `${shape}@${backend}`, '--batch', values.batch!, '--seq', values.seq!, '--iters', values.iters!];
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 24, env: where.env });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      try {
        rows.push({ ...(JSON.parse(line) as Row), backend: where.label });
      } catch {
        rows.push({ shape, backend: where.label, ok: false, note: `crashed: ${(r.stderr || '').trim().split('\n').pop()}` });
      }
      process.stderr.write(`.`);
    }
  }
  process.stderr.write('\n');
  console.log(`forward pass, batch ${values.batch} × seq ${values.seq}, float32, random weights, ${values.iters} timed iterations after 1 warm-up`);
  console.log('| shape | backend | ms/batch | sequences/s | tokens/s | peak RSS MiB |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    if (!r.ok) console.log(`| ${r.shape} | ${r.backend} | ${r.note ?? 'unavailable'} | — | — | — |`);
    else console.log(`| ${r.shape} | ${r.backend} | ${r.msPerBatch!.toFixed(0)} | ${r.seqPerS!.toFixed(1)} | ${Math.round(r.tokPerS!)} | ${r.peakRssMiB!.toFixed(0)} |`);
  }
  if (rows.some((r) => r.backend.includes('SwiftShader'))) {
    console.log('\nwebgpu (SwiftShader) is WebGPU emulated on the CPU: it checks correctness, its times say nothing about GPU speed.');
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
