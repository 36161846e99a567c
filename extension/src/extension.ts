/**
 * PEFT Studio's extension host entry. Activation only wires things up (no TF.js, no file scans on the
 * critical path): training, evaluation and export run in child processes of the bundled engine.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { methodInfo, methodOfConfig } from '../../protocol/method';
import { RUN_CONFIG_SELECTOR, TrainCodeLensProvider } from './codeLens';
import { runCli } from './cliTask';
import { describeBackend } from '../../engine/backend/describe';
import { RunManager } from './core/runManager';
import { DASHBOARD_VIEW_TYPE, DashboardPanel } from './dashboardPanel';
import { LOSS_VIEW_ID, LossViewProvider } from './lossView';
import { distillFlow, newRunFlow, saveRunConfig } from './newRun';
import { registerNotebook } from './notebook';
import { registerPlayground } from './playground';
import { RunsTreeProvider, type RunsNode } from './runsTree';
import { readSettings } from './settings';
import { createStatusBar } from './statusBar';
import { spawnWorker } from './workerSpawn';
import { StudyTracker } from './core/studyProcess';
import { STUDY_VIEW_TYPE, StudyPanel } from './studyPanel';

let manager: RunManager | undefined;

export function activate(context: vscode.ExtensionContext): { runs: RunManager; activationMs: number } {
  const t0 = Date.now();
  const log = vscode.window.createOutputChannel('PEFT Studio', { log: true });
  const distDir = path.join(context.extensionPath, 'dist');
  let settings = readSettings(context);
  const runs = new RunManager({
    runsDir: settings.runsFolder,
    spawn: () => spawnWorker(distDir, readSettings(context).backend),
    throttleMs: settings.eventThrottleMs,
    log: (runId, text) => log.info(`[${runId}] ${text.trimEnd()}`),
  });
  manager = runs;
  const tree = new RunsTreeProvider(runs);
  const sub = (d: vscode.Disposable) => context.subscriptions.push(d);

  sub(log);
  sub(vscode.window.createTreeView('peftStudio.runs', { treeDataProvider: tree, showCollapseAll: false }));
  sub(vscode.window.registerWebviewViewProvider(LOSS_VIEW_ID, new LossViewProvider(context.extensionUri, runs, log)));
  sub(vscode.window.registerWebviewPanelSerializer(DASHBOARD_VIEW_TYPE, {
    deserializeWebviewPanel: async (panel, state) => DashboardPanel.revive(panel, context.extensionUri, runs, log, state),
  }));
  sub(createStatusBar(runs, () => readSettings(context).backend));
  sub(vscode.languages.registerCodeLensProvider(RUN_CONFIG_SELECTOR, new TrainCodeLensProvider()));
  sub(vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration('peftStudio')) settings = readSettings(context);
  }));
  sub(runs.onDidChange((c) => {
    // A run's notices go to the log, the backend with every reason a faster one was skipped.
    if (c.kind === 'events') {
      for (const e of c.events) {
        if (e.type !== 'started') continue;
        log.info(`[${c.runId}] ${describeBackend(e.backend)}`);
        for (const n of e.notices.filter((n) => !n.startsWith('backend: '))) log.info(`[${c.runId}] note: ${n}`);
      }
    }
    if (c.kind !== 'status') return;
    const rec = runs.get(c.runId);
    if (c.status === 'failed' && rec?.view.end?.reason) {
      void vscode.window.showErrorMessage(`PEFT run ${rec.view.label} failed: ${rec.view.end.reason.split('\n')[0]}`, 'Show Logs', 'Open Dashboard').then((a) => {
        if (a === 'Show Logs') log.show();
        if (a === 'Open Dashboard') DashboardPanel.createOrShow(context.extensionUri, runs, log, c.runId);
      });
    }
  }));
  // Past runs load after activation returns, so a large runs folder never delays the window.
  setImmediate(() => {
    try {
      runs.restore();
    } catch (e) {
      log.error(`could not read runs folder ${settings.runsFolder}: ${(e as Error).message}`);
    }
  });

  const start = (config: Record<string, unknown>, label?: string, baseDir?: string) => {
    const runId = runs.enqueue(config, label, baseDir);
    DashboardPanel.createOrShow(context.extensionUri, runs, log, runId);
    void showPreparing(runs, runId);
    return runId;
  };
  const command = (id: string, fn: (...args: any[]) => unknown) => sub(vscode.commands.registerCommand(id, fn));

  const saveAndStart = (config: Record<string, unknown>) => {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (folder && vscode.workspace.isTrusted) {
      const file = saveRunConfig(path.join(folder, '.peft-studio'), config);
      log.info(`run config saved to ${file}`);
    }
    return start(config);
  };
  command('peftStudio.newRun', async () => {
    const config = await newRunFlow(context, settings, path.join(context.extensionPath, 'examples'), runs);
    return config ? saveAndStart(config) : undefined;
  });
  command('peftStudio.distillRun', async (arg?: unknown) => {
    const config = await distillFlow(context, settings, path.join(context.extensionPath, 'examples'), runs, runIdOf(arg));
    return config ? saveAndStart(config) : undefined;
  });

  command('peftStudio.startFromConfig', async (uri?: vscode.Uri) => {
    const file = uri?.fsPath ?? (await pickConfigFile());
    if (!file) return;
    if (!vscode.workspace.isTrusted) {
      void vscode.window.showWarningMessage('PEFT Studio: training from a workspace config is disabled until you trust this workspace.', 'Manage Workspace Trust').then((a) => {
        if (a) void vscode.commands.executeCommand('workbench.trust.manage');
      });
      return;
    }
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      void vscode.window.showErrorMessage(`PEFT Studio: ${file} is not valid JSON (${(e as Error).message})`);
      return;
    }
    // Relative paths stay relative to the file: the worker's resolveRunConfig resolves them against baseDir.
    return start(raw, typeof raw.run_name === 'string' ? raw.run_name : path.basename(file, '.peft.json'), path.dirname(file));
  });

  for (const cmd of ['pause', 'resume', 'stop'] as const) {
    command(`peftStudio.${cmd}`, async (arg?: unknown) => {
      const runId = runIdOf(arg) ?? runs.activeRunId ?? (await pickRun(runs, `Run to ${cmd}`, (s) => s === 'running' || s === 'paused' || s === 'queued'));
      if (runId && !runs.control(runId, cmd)) void vscode.window.showInformationMessage(`PEFT Studio: run ${runId} is not running.`);
    });
  }

  command('peftStudio.openDashboard', (arg?: unknown) => {
    DashboardPanel.createOrShow(context.extensionUri, runs, log, runIdOf(arg));
  });

  command('peftStudio.evaluate', async (arg?: unknown) => {
    const runId = runIdOf(arg) ?? (await pickRun(runs, 'Run to evaluate', (s) => s !== 'queued'));
    const rec = runId ? runs.get(runId) : undefined;
    if (!rec) return;
    const data = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Data: ['csv', 'tsv', 'jsonl', 'parquet'] }, title: 'Labelled data to evaluate on' });
    if (!data?.[0]) return;
    const r = await runCli(distDir, `Evaluating ${rec.view.label}`, ['eval', '--run', rec.runDir, '--data', data[0].fsPath, '--json'], log, settings.backend);
    if (!r.ok) return void vscode.window.showErrorMessage(`PEFT Studio: evaluation failed — ${lastLine(r.stderr)}`, 'Show Logs').then((a) => a && log.show());
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { loss: number; metrics: Record<string, number>; examples: number };
    const summary = Object.entries(res.metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
    log.info(`eval ${rec.runId} on ${data[0].fsPath}: loss ${res.loss.toFixed(4)}, ${summary}`);
    void vscode.window.showInformationMessage(`${rec.view.label} on ${path.basename(data[0].fsPath)} (${res.examples} examples): loss ${res.loss.toFixed(4)}, ${summary}`);
  });

  const EXPORTS = {
    delta: { command: 'peftStudio.exportDelta', what: 'trained tensors (delta)' },
    merged: { command: 'peftStudio.exportMerged', what: 'merged model' },
    adapter: { command: 'peftStudio.exportAdapter', what: 'adapter' },
  } as const;
  for (const kind of ['delta', 'merged', 'adapter'] as const) {
    command(EXPORTS[kind].command, async (arg?: unknown) => {
      const runId = runIdOf(arg) ?? (await pickRun(runs, 'Run to export', (s) => s !== 'queued'));
      const rec = runId ? runs.get(runId) : undefined;
      if (!rec) return;
      // What the run's method can export comes from the catalog: say so before spawning a CLI that would refuse.
      const info = methodInfo(methodOfConfig(rec.view.started?.config ?? rec.config).name);
      if (info && kind === 'adapter' && !info.adapterFormat) return void vscode.window.showWarningMessage(`PEFT Studio: ${info.title} has no adapter format; export the trained tensors (delta) or the merged model instead.`);
      if (info && kind === 'merged' && info.merge !== true) return void vscode.window.showWarningMessage(`PEFT Studio: ${info.title} cannot be merged into the model (${info.merge}); export its adapter instead.`);
      const out = path.join(rec.runDir, 'export', kind);
      const r = await runCli(distDir, `Exporting the ${EXPORTS[kind].what} of ${rec.view.label}`, ['export', rec.runDir, `--${kind}`, out], log, settings.backend);
      if (!r.ok) return void vscode.window.showErrorMessage(`PEFT Studio: export failed — ${lastLine(r.stderr)}`, 'Show Logs').then((a) => a && log.show());
      const action = await vscode.window.showInformationMessage(`PEFT Studio: ${r.stdout.trim()}`, 'Reveal');
      if (action) void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(out));
    });
  }

  command('peftStudio.selectBackend', async () => {
    const items = [
      { label: 'auto', description: 'fastest that loads: tensorflow-gpu → webgpu (real GPU) → tensorflow → wasm → cpu' },
      { label: 'tensorflow-gpu', description: '@tensorflow/tfjs-node-gpu (CUDA; optional install)' },
      { label: 'webgpu', description: 'any GPU through Dawn (the webgpu package); forced, also a software adapter' },
      { label: 'tensorflow', description: '@tensorflow/tfjs-node (native CPU; optional install)' },
      { label: 'wasm', description: 'WebAssembly, always available' },
      { label: 'cpu', description: 'pure JavaScript, slow; for debugging' },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: 'PEFT Studio backend (used by new runs)', placeHolder: `current: ${settings.backend}` });
    if (pick) await vscode.workspace.getConfiguration('peftStudio').update('backend', pick.label, vscode.ConfigurationTarget.Global);
  });

  command('peftStudio.openRunFolder', async (arg?: unknown) => {
    const runId = runIdOf(arg) ?? (await pickRun(runs, 'Run folder to open', () => true));
    const rec = runId ? runs.get(runId) : undefined;
    if (!rec) return;
    const events = vscode.Uri.file(path.join(rec.runDir, 'events.jsonl'));
    if (fs.existsSync(events.fsPath)) await vscode.window.showTextDocument(events, { preview: true });
    void vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(rec.runDir));
  });

  command('peftStudio.deleteRun', async (arg?: unknown) => {
    const runId = runIdOf(arg) ?? (await pickRun(runs, 'Run to delete', (s) => s !== 'running' && s !== 'paused' && s !== 'queued'));
    const rec = runId ? runs.get(runId) : undefined;
    if (!rec) return;
    const ok = await vscode.window.showWarningMessage(`Delete run ${rec.view.label} and its folder (checkpoints, events)?`, { modal: true }, 'Delete');
    if (ok === 'Delete') runs.delete(rec.runId);
  });

  command('peftStudio.showLogs', () => log.show());
  const studies = new StudyTracker();
  registerNotebook(context, { runs, log, studies: { distDir, runsFolder: () => readSettings(context).runsFolder, backend: () => readSettings(context).backend, tracker: studies } });
  sub(vscode.window.registerWebviewPanelSerializer(STUDY_VIEW_TYPE, {
    deserializeWebviewPanel: async (panel, state) => StudyPanel.revive(panel, context.extensionUri, studies, log, state),
  }));
  command('peftStudio.openStudyReport', async (arg?: unknown) => {
    let dir = typeof arg === 'string' ? arg : arg instanceof vscode.Uri ? arg.fsPath : undefined;
    if (!dir) {
      const root = path.join(readSettings(context).runsFolder, 'studies');
      const pick = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Open Study', title: 'Open Study Report: a study folder (report.json, runs/)', defaultUri: fs.existsSync(root) ? vscode.Uri.file(root) : undefined });
      dir = pick?.[0]?.fsPath;
      if (!dir) return undefined;
    }
    const panel = StudyPanel.createOrShow(context.extensionUri, studies, log, dir);
    if (!panel) void vscode.window.showErrorMessage(`PEFT Studio: ${dir} is not a study folder (no study.json or report.json).`);
    return panel ? dir : undefined;
  });
  registerPlayground(context, { runs, log, backend: () => readSettings(context).backend });

  const activationMs = Date.now() - t0;
  log.info(`activated in ${activationMs} ms; runs folder ${settings.runsFolder}`);
  return { runs, activationMs };
}

export function deactivate(): void {
  manager?.dispose();
}

/**
 * Loading a model, reading and tokenizing a dataset take seconds before the first step: a cancellable
 * notification covers that stretch, until the run's `started` event (or its end) arrives.
 */
function showPreparing(runs: RunManager, runId: string): Thenable<void> {
  const label = runs.get(runId)?.view.label ?? runId;
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `PEFT: preparing ${label} (loading model and data)…`, cancellable: true },
    (_progress, token) =>
      new Promise<void>((resolve) => {
        const done = () => {
          sub.dispose();
          resolve();
        };
        const sub = runs.onDidChange((c) => {
          if (c.runId !== runId) return;
          if (c.kind === 'events' && c.events.some((e) => e.type === 'started')) done();
          if (c.kind === 'status' && (c.status === 'finished' || c.status === 'failed' || c.status === 'stopped')) done();
        });
        token.onCancellationRequested(() => {
          runs.control(runId, 'stop');
          done();
        });
        if (runs.get(runId)?.view.started) done();
      }),
  );
}

function runIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  const node = arg as RunsNode | undefined;
  return node && node.kind === 'run' ? node.runId : undefined;
}

async function pickRun(runs: RunManager, title: string, filter: (status: string) => boolean): Promise<string | undefined> {
  const items = runs.list().filter((r) => filter(r.view.status)).map((r) => ({ label: r.view.label, description: r.view.status, runId: r.runId }));
  if (!items.length) {
    void vscode.window.showInformationMessage('PEFT Studio: no matching runs.');
    return undefined;
  }
  return (await vscode.window.showQuickPick(items, { title }))?.runId;
}

async function pickConfigFile(): Promise<string | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri.fsPath;
  if (active?.endsWith('.peft.json')) return active;
  const found = await vscode.workspace.findFiles('**/*.peft.json', '**/node_modules/**', 50);
  if (!found.length) {
    const uri = await vscode.window.showOpenDialog({ filters: { 'Run config': ['json'] }, title: 'Run config file' });
    return uri?.[0]?.fsPath;
  }
  const pick = await vscode.window.showQuickPick(found.map((f) => ({ label: vscode.workspace.asRelativePath(f), file: f.fsPath })), { title: 'Run config to train' });
  return pick?.file;
}

function lastLine(s: string): string {
  return s.trim().split('\n').filter(Boolean).pop() ?? 'see the PEFT Studio log';
}
