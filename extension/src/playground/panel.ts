/**
 * The "Try it" panel (one, reused), the webview-sample way: createOrShow / revive / dispose. Handshake: the
 * webview says `playground/ready`, the host answers with the runs it can load and opens the selected one
 * in the predict worker. Every webview message is validated, and names runs by id only.
 */
import * as vscode from 'vscode';
import type { RunManager } from '../core/runManager';
import { webviewHtml, webviewOptions } from '../webviewHtml';
import { runBatch } from './batch';
import type { PredictClient } from './predictClient';
import { toView, type HostToPlayground, type PlaygroundToHost } from '../../../protocol/playground';
import { runMethodLabel } from '../../../protocol/method';
import { canTry, playgroundRuns } from './runs';
import { parsePlaygroundMessage } from './validate';

export const PLAYGROUND_VIEW_TYPE = 'peftStudio.playground';

export interface PlaygroundDeps {
  extensionUri: vscode.Uri;
  runs: RunManager;
  client: PredictClient;
  log: vscode.LogOutputChannel;
}

export class PlaygroundPanel {
  static current: PlaygroundPanel | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private runsKey = '';
  private runsTimer: NodeJS.Timeout | undefined;

  static createOrShow(deps: PlaygroundDeps, runId?: string): PlaygroundPanel {
    if (PlaygroundPanel.current) {
      PlaygroundPanel.current.panel.reveal(undefined, false);
      if (runId) PlaygroundPanel.current.select(runId);
      return PlaygroundPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(PLAYGROUND_VIEW_TYPE, 'PEFT: Try It', { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, {
      ...webviewOptions(deps.extensionUri),
      retainContextWhenHidden: false, // the page keeps its inputs and last result in setState
    });
    PlaygroundPanel.current = new PlaygroundPanel(panel, deps, runId);
    return PlaygroundPanel.current;
  }

  static revive(panel: vscode.WebviewPanel, deps: PlaygroundDeps, state: unknown): void {
    panel.webview.options = webviewOptions(deps.extensionUri);
    const runId = (state as { runId?: unknown } | undefined)?.runId;
    PlaygroundPanel.current = new PlaygroundPanel(panel, deps, typeof runId === 'string' ? runId : undefined);
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly deps: PlaygroundDeps,
    private selected?: string,
  ) {
    panel.iconPath = vscode.Uri.joinPath(deps.extensionUri, 'media', 'icon.svg');
    panel.webview.html = webviewHtml(panel.webview, deps.extensionUri, 'playground', 'PEFT: Try It');
    panel.onDidDispose(() => this.dispose(), null, this.disposables);
    panel.webview.onDidReceiveMessage((raw) => void this.onMessage(raw), null, this.disposables);
    // Status changes arrive with every event batch of a training run: look at most twice a second, and resend
    // only when the list changed.
    this.disposables.push(
      deps.runs.onDidChange(() => {
        this.runsTimer ??= setTimeout(() => {
          this.runsTimer = undefined;
          this.sendRuns(false);
        }, 500);
      }),
      { dispose: () => clearTimeout(this.runsTimer) },
    );
  }

  select(runId: string): void {
    this.selected = runId;
    this.sendRuns(true);
    void this.open(runId);
  }

  private async onMessage(raw: unknown): Promise<void> {
    const parsed = parsePlaygroundMessage(raw);
    if (!parsed.ok) return this.deps.log.warn(`playground: ignored an invalid message (${parsed.reason})`);
    const m: PlaygroundToHost = parsed.message;
    switch (m.kind) {
      case 'playground/ready':
        this.sendRuns(true);
        if (this.selected) await this.open(this.selected);
        return;
      case 'playground/selectRun':
        this.selected = m.runId;
        return this.open(m.runId);
      case 'playground/predict':
        return this.predict(m);
      case 'playground/predictFile': {
        const rec = this.runRecord(m.runId);
        if (!rec) return;
        const post = (state: 'running' | 'done' | 'cancelled' | 'failed', message: string) => this.post({ v: 1, kind: 'playground/didChangeBatch', runId: m.runId, state, message });
        return runBatch(this.deps, rec, post);
      }
      case 'playground/log':
        this.deps.log[m.level](`playground: ${m.message}`);
        return;
    }
  }

  /** The webview names a run; only one the manager knows and that has a checkpoint is used. */
  private runRecord(runId: string) {
    const rec = this.deps.runs.get(runId);
    if (rec && canTry(rec)) return rec;
    this.post({ v: 1, kind: 'playground/didFail', runId, message: `run ${runId} is not available to try (it needs a finished or stopped run with a checkpoint)` });
    return undefined;
  }

  private async open(runId: string): Promise<void> {
    const rec = this.runRecord(runId);
    if (!rec) return;
    try {
      const run = await this.deps.client.open(rec.runDir);
      this.post({ v: 1, kind: 'playground/didOpenRun', run: { runId, labels: run.labels, task: run.task, pair: run.pair, step: run.step, checkpoint: run.checkpointNote, backend: run.backend, method: runMethodLabel(rec, 'long'), notices: run.notices } });
    } catch (e) {
      this.deps.log.error(`playground: could not load ${runId}: ${(e as Error).message}`);
      this.post({ v: 1, kind: 'playground/didFail', runId, message: (e as Error).message });
    }
  }

  private async predict(m: Extract<PlaygroundToHost, { kind: 'playground/predict' }>): Promise<void> {
    const rec = this.runRecord(m.runId);
    if (!rec) return;
    const t0 = performance.now();
    try {
      const r = await this.deps.client.predict(rec.runDir, [{ text: m.text, textPair: m.textPair }]);
      this.post({
        v: 1,
        kind: 'playground/didPredict',
        requestId: m.requestId,
        runId: m.runId,
        trained: toView(r.trained[0]!),
        base: toView(r.base[0]!),
        ms: { ...r.ms, total: performance.now() - t0 },
      });
    } catch (e) {
      this.post({ v: 1, kind: 'playground/didFail', runId: m.runId, requestId: m.requestId, message: (e as Error).message });
    }
  }

  private sendRuns(force: boolean): void {
    const runs = playgroundRuns(this.deps.runs);
    const key = JSON.stringify(runs);
    if (!force && key === this.runsKey) return;
    this.runsKey = key;
    this.post({ v: 1, kind: 'playground/didChangeRuns', runs, selected: this.selected });
  }

  private post(m: HostToPlayground): void {
    void this.panel.webview.postMessage(m);
  }

  dispose(): void {
    PlaygroundPanel.current = undefined;
    this.panel.dispose();
    while (this.disposables.length) this.disposables.pop()?.dispose();
  }
}
