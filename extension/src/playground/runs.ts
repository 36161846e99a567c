/**
 * Which runs the playground offers, and how the picker names them. No `vscode` import: unit-tested.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RunManager, RunRecord } from '../core/runManager';
import { runMethodLabel } from '../../../protocol/method';
import type { PlaygroundRun } from '../../../protocol/playground';
import { baseModelOf, taskOf } from '../../../protocol/runs-by-base';

/** A trained model needs a checkpoint: every finished run has one, a stopped run once it saved (it does on stop). */
export function hasCheckpoint(runDir: string): boolean {
  try {
    return fs.readdirSync(path.join(runDir, 'checkpoints')).some((d) => /^step-\d{8}$/.test(d));
  } catch {
    return false;
  }
}

export function canTry(rec: RunRecord): boolean {
  return (rec.view.status === 'finished' || rec.view.status === 'stopped') && hasCheckpoint(rec.runDir);
}

export function playgroundRuns(runs: RunManager): PlaygroundRun[] {
  return runs.list().filter(canTry).map((rec) => {
    const config = (rec.view.started?.config as Record<string, unknown> | undefined) ?? rec.config;
    const base = baseModelOf(config, (p) => (path.isAbsolute(p) ? path.normalize(p) : path.resolve(rec.baseDir ?? process.cwd(), p)));
    return { runId: rec.runId, label: rec.view.label, status: rec.view.status, method: runMethodLabel(rec, 'short'), metric: bestMetric(rec), baseKey: base.key, base: base.label, task: taskOf(config) };
  });
}

function bestMetric(rec: RunRecord): string | undefined {
  const evals = rec.view.evals;
  const best = evals.filter((e) => e.isBest).at(-1) ?? evals.at(-1);
  const value = best?.metrics[best.primary];
  return best && value !== undefined ? `${best.primary} ${value.toFixed(3)}` : undefined;
}
