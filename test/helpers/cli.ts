/**
 * The real CLI (`bin/peft-studio.js`) as a child process, the way the CLI tests run it: from the repository
 * root, output captured, the exit code read (-1 when it died of a signal).
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');
export const CLI_BIN = path.join(REPO_ROOT, 'bin', 'peft-studio.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `peft-studio ARGS…`. Like a user's shell it has no PEFT_STUDIO_BACKEND (auto selection), unless
 * `inheritBackend` keeps the test process's own.
 */
export function runCli(args: string[], opts: { inheritBackend?: boolean } = {}): Promise<CliRun> {
  const env = { ...process.env };
  if (!opts.inheritBackend) delete env.PEFT_STUDIO_BACKEND;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI_BIN, ...args], { cwd: REPO_ROOT, env, encoding: 'utf8', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}
