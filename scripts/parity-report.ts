/**
 * `npm run parity [-- <case-dir> …]`: prints the engine's error against HF's float64 reference outputs for
 * every reference case (default: ../shared/fixtures/*) on each test backend. The parity test asserts the
 * same numbers; this shows them.
 *
 * webgpu runs in a child process: on this machine's GPU when it has one, else forced onto SwiftShader
 * (Vulkan on the CPU, from chromium), whose environment must be in place before a process starts.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { initBackend, type BackendName } from '../engine/backend/select';
import { webgpuChildEnv } from '../engine/backend/webgpu-swiftshader';
import { referenceCases, runReferenceCase } from '../test/parity/reference';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { 'rows-on': { type: 'string' }, label: { type: 'string' } } });

async function printRows(backend: BackendName, label: string, cases: string[]) {
  await initBackend({ backend, reinit: true });
  for (const c of cases) {
    const r = await runReferenceCase(c);
    const max = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);
    const e = (x: number) => x.toExponential(2);
    console.log(
      `| ${path.basename(c)} | ${label} | ${e(r.logitsRelL2)} | ${e(max(r.hiddenRelL2))} | ${e(max(r.attentionRelL2))} | ${e(r.lossAbs)} | ${e(max(Object.values(r.gradRelL2)))} | ${e(max(Object.values(r.zeroGradAbsRatio)))} |`,
    );
  }
}

async function webgpuRows(cases: string[]) {
  const child = await webgpuChildEnv();
  if (!child.ok) {
    console.log(`| all | webgpu | unavailable: ${child.reason} | | | | | |`);
    return;
  }
  const label = child.software ? 'webgpu (SwiftShader)' : 'webgpu';
  const args = ['--import', 'tsx', __filename, '--rows-on', 'webgpu', '--label', label, ...cases];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: child.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const rows = r.stdout.split('\n').filter((l) => l.startsWith('| '));
  if (r.status === 0 && rows.length) console.log(rows.join('\n'));
  else console.log(`| all | ${label} | failed: ${(r.stderr || r.stdout).trim().split('\n').pop()} | | | | | |`);
}

async function main() {
  const cases = positionals.length ? positionals.map((d) => path.resolve(d)) : referenceCases();
  if (values['rows-on']) return printRows(values['rows-on'] as BackendName, values.label ?? values['rows-on'], cases);
  console.log('| case | backend | logits rel L2 | max hidden rel L2 | max attention rel L2 | loss abs | max bias-grad rel L2 | key-bias grad / max |g| |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const backend of ['cpu', 'wasm'] as BackendName[]) await printRows(backend, backend, cases);
  await webgpuRows(cases);
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
