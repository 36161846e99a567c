/**
 * "Try it": type a sentence (or a pair) and see a run's trained model next to its base model, or run a
 * whole file through it. Everything the playground adds to the extension is registered here: the panel and
 * its serializer, the commands, and the predict worker's lifetime.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { RunManager } from '../core/runManager';
import { PlaygroundPanel, PLAYGROUND_VIEW_TYPE, type PlaygroundDeps } from './panel';
import { PredictClient } from './predictClient';
import { canTry } from './runs';
import { spawnPredictWorker } from './spawn';

export interface PlaygroundRegistration {
  runs: RunManager;
  log: vscode.LogOutputChannel;
  /** The backend setting, read when the worker starts (a change restarts it). */
  backend: () => string;
}

export function registerPlayground(context: vscode.ExtensionContext, reg: PlaygroundRegistration): void {
  const distDir = path.join(context.extensionPath, 'dist');
  const client = new PredictClient(
    () => spawnPredictWorker(distDir, reg.backend()),
    (text) => reg.log.info(`[predict] ${text.trimEnd()}`),
  );
  const deps: PlaygroundDeps = { extensionUri: context.extensionUri, runs: reg.runs, client, log: reg.log };
  const sub = (d: vscode.Disposable) => context.subscriptions.push(d);

  sub({ dispose: () => client.dispose() });
  sub(vscode.window.registerWebviewPanelSerializer(PLAYGROUND_VIEW_TYPE, {
    deserializeWebviewPanel: async (panel, state) => PlaygroundPanel.revive(panel, deps, state),
  }));
  sub(vscode.workspace.onDidChangeConfiguration((e) => {
    // The worker picked its backend when it started: the next request starts one on the new backend.
    if (e.affectsConfiguration('peftStudio.backend')) client.dispose();
  }));

  sub(vscode.commands.registerCommand('peftStudio.tryIt', (arg?: unknown) => {
    // With no run named, an open panel keeps the run the user picked there; a new one starts on the newest.
    PlaygroundPanel.createOrShow(deps, runIdOf(arg) ?? (PlaygroundPanel.current ? undefined : newestTryable(reg.runs)));
  }));
  sub(vscode.commands.registerCommand('peftStudio.tryRun', (arg?: unknown) => {
    const runId = runIdOf(arg);
    if (runId) PlaygroundPanel.createOrShow(deps, runId);
    else void vscode.commands.executeCommand('peftStudio.tryIt');
  }));
}

/** A Runs-tree node (`{ kind: 'run', runId }`) or a plain id, as the other run commands accept. */
function runIdOf(arg: unknown): string | undefined {
  if (typeof arg === 'string') return arg;
  const node = arg as { kind?: unknown; runId?: unknown } | undefined;
  return node?.kind === 'run' && typeof node.runId === 'string' ? node.runId : undefined;
}

function newestTryable(runs: RunManager): string | undefined {
  return runs.list().find(canTry)?.runId;
}
