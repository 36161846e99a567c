/**
 * Long one-off engine jobs (evaluate, export) run the bundled CLI in a child process under a cancellable
 * progress notification; the extension host never loads TF.js.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as vscode from 'vscode';

export async function runCli(distDir: string, title: string, args: string[], log: vscode.LogOutputChannel, backend: string): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (_progress, token) =>
    new Promise((resolve) => {
      log.info(`$ peft-studio ${args.join(' ')}`);
      const child = spawn(process.execPath, [path.join(distDir, 'cli.js'), ...args], {
        env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', PEFT_STUDIO_WASM_DIR: path.join(distDir, 'wasm'), PEFT_STUDIO_BACKEND: backend === 'auto' ? '' : backend },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        log.info(d.toString().trimEnd());
      });
      token.onCancellationRequested(() => child.kill('SIGTERM'));
      child.on('close', (code) => resolve({ ok: code === 0, stdout, stderr }));
      child.on('error', (e) => resolve({ ok: false, stdout, stderr: String(e) }));
    }),
  );
}
