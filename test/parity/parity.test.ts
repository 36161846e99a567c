/**
 * HF parity on every reference case in ../shared/fixtures (and PEFT_STUDIO_PARITY_CASES), on each backend
 * that tests run on (see parityBackends). Tolerances are the ones in ../shared/fixtures/README.md, against
 * HF's float64 outputs.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as path from 'node:path';
import { describeBackend, initBackend } from '../../engine/backend/select';
import { parityBackends, referenceCases, runReferenceCase } from './reference';

for (const backend of parityBackends()) {
  describe(`HF parity on ${backend}`, () => {
    for (const caseDir of referenceCases()) {
      it(`${path.basename(caseDir)}: logits, hidden states, loss and bias gradients match HF float64`, async (t) => {
        t.diagnostic(describeBackend(await initBackend({ backend, reinit: true })));
        const r = await runReferenceCase(caseDir);
        assert.ok(r.logitsRelL2 <= 2e-5, `logits rel L2 ${r.logitsRelL2}`);
        assert.ok(r.lossAbs <= 1e-5, `loss |Δ| ${r.lossAbs}`);
        r.hiddenRelL2.forEach((e, i) => assert.ok(e <= 2e-5, `hidden_states.${i} rel L2 ${e}`));
        r.attentionRelL2.forEach((e, i) => assert.ok(e <= 2e-5, `attentions.${i} rel L2 ${e}`));
        if (r.pooledRelL2 !== undefined) assert.ok(r.pooledRelL2 <= 2e-5, `pooled rel L2 ${r.pooledRelL2}`);
        assert.ok(Object.keys(r.gradRelL2).length > 0, 'no bias gradients were compared');
        for (const [name, e] of Object.entries(r.gradRelL2)) assert.ok(e <= 1e-4, `grad ${name} rel L2 ${e}`);
        for (const [name, e] of Object.entries(r.zeroGradAbsRatio)) assert.ok(e <= 1e-6, `grad ${name} (zero in exact arithmetic) ${e} × max |g|`);
        assert.equal(r.tensorLeak, 0, 'tensors leaked across the forward/backward');
      });
    }
  });
}
