/**
 * How a backend choice is told: one short line for a command's output and a run's notices, the full
 * reasons for `inspect --backends`, logs and the run's `started` event. No TF.js import: the extension
 * host formats the reasons from a run's events with it.
 */

/** What describing needs of a `BackendReport` (select.ts) — also what a run's `started` event carries. */
export interface BackendChoice {
  active: string;
  device?: string;
  note?: string;
  forced?: boolean;
  attempts: Array<{ name: string; ok: boolean; reason?: string }>;
}

/** `backend: wasm (skipped tensorflow-gpu: not installed …; webgpu: no adapter …)`, or `backend: webgpu on <adapter> (forced; <note>)`. */
export function describeBackend(r: BackendChoice): string {
  const skipped = r.attempts.filter((a) => !a.ok).map((a) => `${a.name}: ${a.reason}`);
  const why = r.forced ? 'forced' : skipped.length ? `skipped ${skipped.join('; ')}` : 'fastest available';
  return `backend: ${r.active}${r.device ? ` on ${r.device}` : ''} (${[why, r.note].filter(Boolean).join('; ')})`;
}

/** `backend: wasm (native kernels: avx2, 2 threads; 3 faster ones skipped: \`peft-studio inspect --backends\` says why)`. */
export function describeBackendBrief(r: BackendChoice): string {
  const skipped = r.attempts.filter((a) => !a.ok).length;
  const why = r.forced ? 'forced' : skipped ? `${skipped} faster one${skipped > 1 ? 's' : ''} skipped: \`peft-studio inspect --backends\` says why` : 'fastest available';
  return `backend: ${r.active}${r.device ? ` on ${r.device}` : ''} (${[r.forced ? why : undefined, r.note, r.forced ? undefined : why].filter(Boolean).join('; ')})`;
}

/** One line per backend tried, fastest first: what `inspect --backends` prints. */
export function describeBackendAttempts(r: BackendChoice): string[] {
  return r.attempts.map((a) => `  ${a.name.padEnd(15)} ${a.ok ? `active${r.device ? ` on ${r.device}` : ''}${r.forced ? ' (forced)' : ''}${r.note ? `; ${r.note}` : ''}` : `skipped: ${a.reason}`}`);
}
