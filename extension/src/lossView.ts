/** The sidebar's compact webview view: the active run's live loss sparkline. Same protocol as the dashboard. */
import * as vscode from 'vscode';
import type { RunManager } from './core/runManager';
import { parseWebviewMessage } from './protocol-validate';
import { PROTOCOL_VERSION, type HostToWebview } from '../../protocol/webview';
import { webviewHtml, webviewOptions } from './webviewHtml';

export const LOSS_VIEW_ID = 'peftStudio.lossView';

export class LossViewProvider implements vscode.WebviewViewProvider {
  private view?: vscode.WebviewView;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly runs: RunManager,
    private readonly log: vscode.LogOutputChannel,
  ) {
    runs.onDidChange((c) => {
      if (!this.view) return;
      if (c.kind === 'events') this.post({ v: PROTOCOL_VERSION, kind: 'run/didAppendEvents', runId: c.runId, firstIndex: c.firstIndex, events: c.events });
      else if (c.kind === 'status') this.post({ v: PROTOCOL_VERSION, kind: 'run/didChangeStatus', runId: c.runId, status: c.status });
      else this.sendState();
    });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.html = webviewHtml(view.webview, this.extensionUri, 'sidebar', 'PEFT Loss');
    view.webview.onDidReceiveMessage((raw) => {
      const parsed = parseWebviewMessage(raw);
      if (!parsed.ok) return this.log.warn(`loss view: ignored an invalid message (${parsed.reason})`);
      if (parsed.message.kind === 'dashboard/ready') this.sendState();
      else if (parsed.message.kind === 'run/pause' || parsed.message.kind === 'run/resume' || parsed.message.kind === 'run/stop') {
        if (this.runs.get(parsed.message.runId)) this.runs.control(parsed.message.runId, parsed.message.kind.slice(4) as 'pause');
      }
    });
    view.onDidDispose(() => (this.view = undefined));
  }

  private sendState(): void {
    const active = this.runs.activeRunId ?? this.runs.list()[0]?.runId;
    const runs = active ? [this.runs.get(active)!.view] : [];
    this.post({ v: PROTOCOL_VERSION, kind: 'dashboard/didChangeState', timestamp: Date.now(), runs, selected: active ? [active] : [] });
  }

  private post(m: HostToWebview): void {
    void this.view?.webview.postMessage(m);
  }
}
