/**
 * What the status bar says (no `vscode` import: unit-tested). A running or paused run shows its step and
 * loss; once it ends, its last step stays (54/54 ✓, or where it stopped or failed) until the next run starts,
 * so the bar never stops one step short of what the run's cells and dashboard show.
 */
import type { RunView } from '../../protocol/webview';

export interface StatusContent {
  text: string;
  tooltip: string;
}

const ICON: Record<string, string> = { running: '$(sync~spin)', paused: '$(debug-pause)', finished: '$(check)', stopped: '$(debug-stop)', failed: '$(error)' };

/**
 * `run`: the active run, else the last run this window watched; undefined shows the backend. `method`: the
 * run's method label, short for the bar ("LoRA") and long for the tooltip.
 */
export function statusContent(run: RunView | undefined, backendSetting: string, method?: { short: string; long: string }): StatusContent {
  const backend = run?.started?.backend.active ?? backendSetting;
  const icon = run && ICON[run.status];
  if (!run || !icon) return { text: `$(beaker) PEFT: ${backend}`, tooltip: `PEFT Studio — backend ${backend} (PEFT: Select Backend to change)` };
  // The end event's step is the last one taken, even when the step events of the last batch were coalesced away.
  const step = Math.max(run.steps.step.at(-1) ?? 0, run.end?.step ?? 0);
  const total = run.started?.totalSteps;
  const loss = run.steps.loss.at(-1);
  const live = run.status === 'running' || run.status === 'paused';
  return {
    text: `${icon} PEFT ${method ? `${method.short} ` : ''}${step}${total ? `/${total}` : ''}${loss !== undefined ? ` loss ${loss.toFixed(3)}` : ''}`,
    tooltip: `PEFT Studio: ${run.label}${method ? ` (${method.long})` : ''} ${live ? 'on' : `${run.status} on`} ${backend} — click for the dashboard`,
  };
}
