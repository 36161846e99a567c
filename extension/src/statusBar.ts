/** Status bar: the active backend, and the running run's progress; click opens the dashboard. */
import * as vscode from 'vscode';
import type { RunManager } from './core/runManager';
import { runMethodLabel } from '../../protocol/method';

export function createStatusBar(runs: RunManager, backendSetting: () => string): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('peftStudio.status', vscode.StatusBarAlignment.Left, 10);
  item.name = 'PEFT Studio';
  item.command = 'peftStudio.openDashboard';
  let timer: NodeJS.Timeout | undefined;
  const render = () => {
    const id = runs.activeRunId;
    const rec = id ? runs.get(id) : undefined;
    const backend = rec?.view.started?.backend.active ?? backendSetting();
    if (rec && (rec.view.status === 'running' || rec.view.status === 'paused')) {
      const step = rec.view.steps.step.at(-1) ?? 0;
      const total = rec.view.started?.totalSteps;
      const loss = rec.view.steps.loss.at(-1);
      const icon = rec.view.status === 'paused' ? '$(debug-pause)' : '$(sync~spin)';
      const method = runMethodLabel(rec, 'short');
      item.text = `${icon} PEFT ${method} ${step}${total ? `/${total}` : ''}${loss !== undefined ? ` loss ${loss.toFixed(3)}` : ''}`;
      item.tooltip = `PEFT Studio: ${rec.view.label} (${runMethodLabel(rec, 'long')}) on ${backend} — click for the dashboard`;
    } else {
      item.text = `$(beaker) PEFT: ${backend}`;
      item.tooltip = `PEFT Studio — backend ${backend} (PEFT: Select Backend to change)`;
    }
    item.show();
  };
  render();
  // Steps arrive many times a second: redraw at most four times a second, always ending on the latest.
  const sub = runs.onDidChange(() => {
    timer ??= setTimeout(() => {
      timer = undefined;
      render();
    }, 250);
  });
  return { dispose: () => (sub.dispose(), clearTimeout(timer), item.dispose()) };
}
