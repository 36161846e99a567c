/**
 * The dashboard editor panel (one, reused), the webview-sample way: createOrShow / revive / dispose.
 * Handshake: the webview says `dashboard/ready`, the host answers with a full state snapshot, then relays
 * batched `run/didAppendEvents`. Every webview message is validated before it is acted on.
 */
import * as vscode from 'vscode';
import type { RunManager } from './core/runManager';
import { parseWebviewMessage } from './protocol-validate';
import { PROTOCOL_VERSION, type HostToWebview, type WebviewToHost } from '../../protocol/webview';
import { webviewHtml, webviewOptions } from './webviewHtml';

export const DASHBOARD_VIEW_TYPE = 'peftStudio.dashboard';

export class DashboardPanel {
  static current: DashboardPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private selected: string[] = [];

  static createOrShow(extensionUri: vscode.Uri, runs: RunManager, log: vscode.LogOutputChannel, runId?: string): DashboardPanel {
    if (DashboardPanel.current) {
      DashboardPanel.current.panel.reveal(undefined, true);
      if (runId) DashboardPanel.current.focus(runId);
      return DashboardPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(DASHBOARD_VIEW_TYPE, 'PEFT Dashboard', { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, {
      ...webviewOptions(extensionUri),
      retainContextWhenHidden: false, // state survives via getState/setState and the ready handshake
    });
    DashboardPanel.current = new DashboardPanel(panel, extensionUri, runs, log, runId);
    return DashboardPanel.current;
  }

  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, runs: RunManager, log: vscode.LogOutputChannel, state: unknown): void {
    panel.webview.options = webviewOptions(extensionUri);
    const selected = (state as { selected?: unknown })?.selected;
    const first = Array.isArray(selected) && typeof selected[0] === 'string' ? selected[0] : undefined;
    DashboardPanel.current = new DashboardPanel(panel, extensionUri, runs, log, first);
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly runs: RunManager,
    private readonly log: vscode.LogOutputChannel,
    runId?: string,
  ) {
    this.selected = runId ? [runId] : this.defaultSelection();
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.svg');
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'dashboard', 'PEFT Dashboard');
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((raw) => this.onMessage(raw), null, this.disposables);
    this.disposables.push(
      runs.onDidChange((c) => {
        if (c.kind === 'events') this.post({ v: PROTOCOL_VERSION, kind: 'run/didAppendEvents', runId: c.runId, firstIndex: c.firstIndex, events: c.events });
        else if (c.kind === 'status') this.post({ v: PROTOCOL_VERSION, kind: 'run/didChangeStatus', runId: c.runId, status: c.status });
        else {
          if (c.kind === 'added' && c.runId === runs.activeRunId) this.selected = [c.runId];
          this.sendState();
        }
      }),
    );
  }

  focus(runId: string): void {
    this.selected = [runId, ...this.selected.filter((r) => r !== runId)].slice(0, 8);
    this.sendState();
  }

  private defaultSelection(): string[] {
    const active = this.runs.activeRunId ?? this.runs.list()[0]?.runId;
    return active ? [active] : [];
  }

  private onMessage(raw: unknown): void {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.log.warn(`dashboard: ignored an invalid message (${parsed.reason})`);
      return;
    }
    const m: WebviewToHost = parsed.message;
    switch (m.kind) {
      case 'dashboard/ready':
        this.sendState();
        break;
      case 'run/pause':
      case 'run/resume':
      case 'run/stop':
        // The id is checked against the manager's own list: the webview names runs, it never names paths.
        if (!this.runs.get(m.runId)) this.log.warn(`dashboard: unknown run ${m.runId}`);
        else this.runs.control(m.runId, m.kind.slice(4) as 'pause' | 'resume' | 'stop');
        break;
      case 'dashboard/select':
        this.selected = m.runIds.filter((id) => this.runs.get(id));
        this.sendState();
        break;
      case 'dashboard/log':
        this.log[m.level === 'error' ? 'error' : m.level === 'warn' ? 'warn' : 'info'](`dashboard: ${m.message}`);
        break;
    }
  }

  private sendState(): void {
    const runs = this.runs.list().map((r) => r.view);
    this.post({ v: PROTOCOL_VERSION, kind: 'dashboard/didChangeState', timestamp: Date.now(), runs, selected: this.selected.filter((id) => this.runs.get(id)) });
  }

  private post(m: HostToWebview): void {
    void this.panel.webview.postMessage(m);
  }

  dispose(): void {
    DashboardPanel.current = undefined;
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
