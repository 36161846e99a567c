/**
 * The fuzz suite's worker process: runs every kind (or those named in FUZZ_KINDS, comma-separated) and
 * reports to its parent over IPC: the case about to run (for the parent's watchdog) and each kind's result.
 * FUZZ_SEED changes every generated input; FUZZ_SCALE multiplies the case counts.
 */
import { runKind } from './harness';
import { KINDS } from './kinds';

const send = (m: unknown) => new Promise<void>((resolve) => (process.send ? process.send(m, () => resolve()) : (console.log(JSON.stringify(m)), resolve())));

async function main(): Promise<void> {
  const seed = Number(process.env.FUZZ_SEED ?? 18);
  const scale = Number(process.env.FUZZ_SCALE ?? 1);
  const only = process.env.FUZZ_KINDS?.split(',').map((s) => s.trim().toLowerCase());
  for (const kind of KINDS) {
    if (only && !only.some((o) => kind.name.toLowerCase().includes(o))) continue;
    const scaled = { ...kind, cases: Math.max(1, Math.round(kind.cases * scale)) };
    let last = 0;
    const result = await runKind(scaled, seed, (index) => {
      // Every case for the watchdog would flood the channel: every 20th, and the first.
      if (index - last >= 20 || index === 0) {
        last = index;
        process.send?.({ type: 'case', kind: kind.name, index });
      }
    });
    await send({ type: 'result', result });
  }
  await send({ type: 'done' });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
