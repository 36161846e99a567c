/**
 * The webview's copy of the runs: host messages in, a `Snapshot` out. Shared by the dashboard and the
 * sidebar view, DOM-free so it is unit-tested in Node. Events are folded with the protocol's own `applyEvent`
 * (the host restores runs from events.jsonl with the same function, so both sides agree by construction).
 *
 * Each run has a generation number, bumped whenever its columns may have been rewritten rather than appended
 * to (a new snapshot, a `started` event that truncates after a resume). Renderers that consume the columns
 * incrementally (the loss chart) start over when it changes.
 */
import { applyEvent, emptyRunView, type HostToWebview, type RunStatus, type RunView } from '../../../protocol/webview';
import { isRunEvent, toChangeEvent, type BiasChangeEvent, type ChangeEvent } from '../../../engine/protocol/events';

export interface Snapshot {
  timestamp: number;
  runs: RunView[];
  /** Overlaid runs; the first is the focused one. */
  selected: string[];
}

const STATUSES: ReadonlySet<string> = new Set<RunStatus>(['queued', 'running', 'paused', 'finished', 'stopped', 'failed']);
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Structural check of a message from the host: the channel is ours, but a version skew must not crash the view. */
export function isHostMessage(x: unknown): x is HostToWebview {
  if (!isObj(x) || x.v !== 1) return false;
  switch (x.kind) {
    case 'dashboard/didChangeState':
      return Array.isArray(x.runs) && Array.isArray(x.selected) && x.runs.every(isRunView);
    case 'run/didAppendEvents':
      return typeof x.runId === 'string' && Array.isArray(x.events);
    case 'run/didChangeStatus':
      return typeof x.runId === 'string' && typeof x.status === 'string' && STATUSES.has(x.status);
    default:
      return false;
  }
}

function isRunView(x: unknown): x is RunView {
  return isObj(x) && typeof x.runId === 'string' && isObj(x.steps) && Array.isArray(x.steps.step) && Array.isArray(x.evals) && (Array.isArray(x.changes) || Array.isArray(x.biasChanges));
}

/** A run view as this version keeps it: a state saved by an older dashboard has `biasChanges` instead of `changes`. */
function upgradeRunView(x: RunView): RunView {
  const old = (x as unknown as { biasChanges?: Array<BiasChangeEvent | ChangeEvent> }).biasChanges;
  if (Array.isArray(x.changes) || !old) return x;
  const { biasChanges: _gone, ...rest } = x as unknown as RunView & { biasChanges: unknown };
  return { ...rest, changes: old.map(toChangeEvent) };
}

export class RunStore {
  snapshot: Snapshot = { timestamp: 0, runs: [], selected: [] };
  private readonly gens = new Map<string, number>();
  private genCounter = 0;

  /** Folds one host message in; false when it changed nothing (unknown, stale, or for no run). */
  apply(message: unknown): boolean {
    if (!isHostMessage(message)) return false;
    switch (message.kind) {
      case 'dashboard/didChangeState':
        // Snapshots can cross in flight with a newer one (the host answers every `ready`); keep the newest.
        if (message.timestamp < this.snapshot.timestamp) return false;
        this.replace({ timestamp: message.timestamp, runs: message.runs, selected: message.selected });
        return true;
      case 'run/didAppendEvents': {
        let run = this.run(message.runId);
        if (!run) {
          // Events for a run the last snapshot did not list (it started since): keep them, unselected.
          run = emptyRunView(message.runId, message.runId, 'running');
          this.snapshot.runs.push(run);
          this.bump(run.runId);
        }
        let applied = false;
        const first = typeof message.firstIndex === 'number' ? message.firstIndex : (run.applied ?? 0);
        message.events.forEach((e, i) => {
          // The snapshot may already hold the start of this batch (it was taken between flushes).
          if (first + i < (run!.applied ?? 0) || !isRunEvent(e)) return;
          if (e.type === 'started') this.bump(run!.runId);
          applyEvent(run!, e);
          run!.applied = first + i + 1;
          applied = true;
        });
        return applied;
      }
      case 'run/didChangeStatus': {
        const run = this.run(message.runId);
        if (!run || run.status === message.status) return false;
        run.status = message.status;
        return true;
      }
    }
  }

  /** Replaces everything (a host snapshot, or the state restored from `vscode.getState()`). */
  replace(snapshot: Snapshot): void {
    this.snapshot = { timestamp: snapshot.timestamp, runs: snapshot.runs.filter(isRunView).map(upgradeRunView), selected: [...snapshot.selected] };
    for (const r of this.snapshot.runs) this.bump(r.runId);
  }

  run(runId: string | undefined): RunView | undefined {
    return runId === undefined ? undefined : this.snapshot.runs.find((r) => r.runId === runId);
  }

  /** Changes (for a new snapshot: only grows) whenever a run's columns may have been rewritten. */
  generation(runId: string): number {
    return this.gens.get(runId) ?? 0;
  }

  /** Selected runs that exist, in order; when none of them exists (or none is selected), the newest run. */
  shown(): RunView[] {
    const runs = this.snapshot.selected.map((id) => this.run(id)).filter((r): r is RunView => r !== undefined);
    if (runs.length > 0) return runs;
    const newest = this.snapshot.runs[this.snapshot.runs.length - 1];
    return newest ? [newest] : [];
  }

  focused(): RunView | undefined {
    return this.shown()[0];
  }

  private bump(runId: string): void {
    this.gens.set(runId, ++this.genCounter);
  }
}
