/**
 * The study tab: one webview panel per study folder showing its report (the per-method table, the charts,
 * the what-moved grids) — the same view as the notebook's study output. A study running in this window
 * (a notebook cell) updates it through the StudyTracker; one running elsewhere (the CLI) through its
 * report.json, which the engine rewrites after each run. Handshake: `study/ready`, then
 * `study/didChangeState` with the whole output. Messages from the webview are validated first.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { STUDY_REPORT_FILE } from '../../engine/study/report-model';
import { studyOutputOfFolder, type StudyTracker } from './core/studyProcess';
import { parseStudyMessage } from './protocol-validate';
import { STUDY_PROTOCOL_VERSION, type HostToStudy, type StudyOutput } from '../../protocol/study';
import { webviewHtml, webviewOptions } from './webviewHtml';

export const STUDY_VIEW_TYPE = 'peftStudio.study';
/** How often a study folder's report.json is looked at while its tab is open (a stat, nothing more). */
const WATCH_MS = 2000;

export class StudyPanel {
  private static readonly panels = new Map<string, StudyPanel>();
  private readonly disposables: vscode.Disposable[] = [];
  private state: StudyOutput | undefined;

  /** The study folder's tab, shown (created if needed); undefined when `dir` is not a study folder. */
  static createOrShow(extensionUri: vscode.Uri, tracker: StudyTracker, log: vscode.LogOutputChannel, dir: string): StudyPanel | undefined {
    const key = path.resolve(dir);
    const open = StudyPanel.panels.get(key);
    if (open) {
      open.panel.reveal(undefined, false);
      return open;
    }
    const state = tracker.get(key) ?? studyOutputOfFolder(key);
    if (!state) return undefined;
    const panel = vscode.window.createWebviewPanel(STUDY_VIEW_TYPE, `Study: ${state.name}`, { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, { ...webviewOptions(extensionUri), retainContextWhenHidden: false });
    return new StudyPanel(panel, extensionUri, tracker, log, key, state);
  }

  /** After a reload: the folder is in the panel's saved state. */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, tracker: StudyTracker, log: vscode.LogOutputChannel, saved: unknown): void {
    panel.webview.options = webviewOptions(extensionUri);
    const dir = (saved as { dir?: unknown } | undefined)?.dir;
    const state = typeof dir === 'string' ? (tracker.get(dir) ?? studyOutputOfFolder(dir)) : undefined;
    if (typeof dir !== 'string' || !state) {
      panel.webview.html = '<!DOCTYPE html><p>This study folder is gone.</p>';
      return;
    }
    new StudyPanel(panel, extensionUri, tracker, log, path.resolve(dir), state);
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly tracker: StudyTracker,
    private readonly log: vscode.LogOutputChannel,
    private readonly dir: string,
    state: StudyOutput,
  ) {
    StudyPanel.panels.set(dir, this);
    this.state = state;
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.svg');
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'study', `Study: ${state.name}`);
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((raw) => this.onMessage(raw), null, this.disposables);
    this.disposables.push(tracker.onDidChange((d, o) => {
      if (d !== dir) return;
      this.state = o;
      this.send();
    }));
    // A study run by someone else (the CLI): its report.json changes after each run.
    const report = path.join(dir, STUDY_REPORT_FILE);
    const onFile = () => {
      const live = this.tracker.get(dir);
      if (live && (live.status === 'running' || live.status === 'starting')) return;
      const fresh = studyOutputOfFolder(dir);
      if (fresh) {
        this.state = fresh;
        this.send();
      }
    };
    fs.watchFile(report, { interval: WATCH_MS }, onFile);
    this.disposables.push({ dispose: () => fs.unwatchFile(report, onFile) });
  }

  private onMessage(raw: unknown): void {
    const parsed = parseStudyMessage(raw);
    if (!parsed.ok) {
      this.log.warn(`study tab: ignored an invalid message (${parsed.reason})`);
      return;
    }
    const m = parsed.message;
    if (m.kind === 'study/ready') this.send();
    else if (m.kind === 'study/openReportFile') void vscode.window.showTextDocument(vscode.Uri.file(path.join(this.dir, m.file)));
  }

  private send(): void {
    if (!this.state) return;
    const m: HostToStudy = { v: STUDY_PROTOCOL_VERSION, kind: 'study/didChangeState', state: this.state };
    void this.panel.webview.postMessage(m);
  }

  dispose(): void {
    StudyPanel.panels.delete(this.dir);
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
