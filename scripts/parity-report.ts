/**
 * `npm run parity [-- <case-dir> …]`: prints the engine's error against HF's float64 reference outputs for
 * every reference case (default: ../shared/fixtures/*) on each test backend. The parity test asserts the
 * same numbers; this shows them.
 */
import * as path from 'node:path';
import { initBackend, type BackendName } from '../engine/backend/select';
import { referenceCases, runReferenceCase } from '../test/parity/reference';

async function main() {
  const cases = process.argv.length > 2 ? process.argv.slice(2).map((d) => path.resolve(d)) : referenceCases();
  console.log('| case | backend | logits rel L2 | max hidden rel L2 | max attention rel L2 | loss abs | max bias-grad rel L2 | key-bias grad / max |g| |');
  console.log('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const backend of ['cpu', 'wasm'] as BackendName[]) {
    await initBackend({ backend, reinit: true });
    for (const c of cases) {
      const r = await runReferenceCase(c);
      const max = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);
      const e = (x: number) => x.toExponential(2);
      console.log(
        `| ${path.basename(c)} | ${backend} | ${e(r.logitsRelL2)} | ${e(max(r.hiddenRelL2))} | ${e(max(r.attentionRelL2))} | ${e(r.lossAbs)} | ${e(max(Object.values(r.gradRelL2)))} | ${e(max(Object.values(r.zeroGradAbsRatio)))} |`,
      );
    }
  }
}
main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
