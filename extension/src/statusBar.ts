/** Status bar: the active backend, and the latest run's progress (statusText.ts); click opens the dashboard. */
import * as vscode from 'vscode';
import type { RunManager } from './core/runManager';
import { runMethodLabel } from '../../protocol/method';
import { statusContent } from './statusText';

export function createStatusBar(runs: RunManager, backendSetting: () => string): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('peftStudio.status', vscode.StatusBarAlignment.Left, 10);
  item.name = 'PEFT Studio';
  item.command = 'peftStudio.openDashboard';
  let timer: NodeJS.Timeout | undefined;
  // The last run this window watched: its final step stays on the bar after it ends.
  let last: string | undefined;
  const render = () => {
    last = runs.activeRunId ?? last;
    const rec = last ? runs.get(last) : undefined;
    const c = statusContent(rec?.view, backendSetting(), rec ? { short: runMethodLabel(rec, 'short'), long: runMethodLabel(rec, 'long') } : undefined);
    item.text = c.text;
    item.tooltip = c.tooltip;
    item.show();
  };
  render();
  // Steps arrive many times a second: redraw at most four times a second, always ending on the latest.
  const sub = runs.onDidChange(() => {
    last = runs.activeRunId ?? last; // a run shorter than one redraw is still the one shown afterwards
    timer ??= setTimeout(() => {
      timer = undefined;
      render();
    }, 250);
  });
  return { dispose: () => (sub.dispose(), clearTimeout(timer), item.dispose()) };
}
