#!/usr/bin/env node
// Builds the optional native addon (native/ → native/build/Release/peft_native.node); run by `npm install`
// and `npm ci` as the package's install script. Never fails the install: when it cannot build (no compiler,
// no Node headers, PEFT_STUDIO_NATIVE=0) it prints one line saying why and exits 0, and the engine uses the
// stock wasm kernels. Nothing is downloaded: node-gyp only runs against headers already on this machine.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'native');
const out = path.join(dir, 'build', 'Release', 'peft_native.node');
const say = (msg) => console.log(`peft-studio native addon: ${msg}`);

function main() {
  if (process.env.PEFT_STUDIO_NATIVE === '0') return say('skipped (PEFT_STUDIO_NATIVE=0); the wasm kernels will be used');
  const nodedir = findNodeDir();
  if (!nodedir) return say(`skipped: no Node ${process.version} headers on this machine (node_api.h); the wasm kernels will be used`);
  const errors = [];
  const gyp = findNodeGyp();
  if (gyp) {
    const r = run(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, `--jobs=${os.availableParallelism()}`]);
    if (r.ok) return verify('node-gyp');
    errors.push(`node-gyp: ${r.why}`);
  } else {
    errors.push('node-gyp not found');
  }
  // Without node-gyp (or its python), a direct compile of the same sources with the same flags.
  const r = compileDirectly(nodedir);
  if (r.ok) return verify('c++');
  errors.push(`c++: ${r.why}`);
  say(`skipped, it did not build (${errors.join('; ')}); the wasm kernels will be used`);
}

/** A folder with include/node/node_api.h: npm's nodedir setting, Node's own install prefix, or node-gyp's cache. */
function findNodeDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    path.resolve(path.dirname(process.execPath), '..'),
    path.join(os.homedir(), '.cache', 'node-gyp', process.versions.node),
    process.env.LOCALAPPDATA && path.join(process.env.LOCALAPPDATA, 'node-gyp', 'Cache', process.versions.node),
  ];
  return candidates.find((d) => d && fs.existsSync(path.join(d, 'include', 'node', 'node_api.h')));
}

/** The node-gyp npm itself ships (npm names it in the environment of the scripts it runs). */
function findNodeGyp() {
  const npmDir = process.env.npm_execpath ? path.resolve(path.dirname(process.env.npm_execpath), '..') : undefined;
  const candidates = [
    process.env.npm_config_node_gyp,
    npmDir && path.join(npmDir, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((f) => f && f.endsWith('.js') && fs.existsSync(f));
}

function compileDirectly(nodedir) {
  if (process.platform === 'win32') return { ok: false, why: 'no direct build on Windows' };
  const cxx = process.env.CXX || 'c++';
  const sources = fs.readdirSync(path.join(dir, 'src')).filter((f) => f.endsWith('.cc')).map((f) => path.join('src', f));
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const flags = ['-O3', '-std=c++17', '-fPIC', '-shared', '-pthread', '-DNAPI_VERSION=8', `-I${path.join(nodedir, 'include', 'node')}`];
  if (process.platform === 'darwin') flags.push('-undefined', 'dynamic_lookup');
  return run(cxx, [...flags, ...sources, '-o', out]);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 10 * 60 * 1000, env: { ...process.env, npm_config_offline: 'true' } });
  if (r.error) return { ok: false, why: r.error.code === 'ENOENT' ? `${cmd} not found` : r.error.message };
  if (r.status !== 0) {
    const lines = `${r.stderr}\n${r.stdout}`.split('\n').filter((l) => /error/i.test(l) && !/gyp ERR! (cwd|node -v|node-gyp -v|not ok|System|command)/.test(l));
    return { ok: false, why: (lines[0] ?? `exit ${r.status}`).trim().slice(0, 160) };
  }
  return { ok: true };
}

/** Loads the result in a fresh process and checks one small product, so a broken build is never left behind. */
function verify(how) {
  const check = `const a = require(${JSON.stringify(out)}); const i = a.configure(1);
    const m = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0]); a.gemm(m.buffer, 0, 16, 32, 1, 2, 2, 2, 0, 0, false, false, -1, 0, 0);
    if (m.slice(8).join() !== '19,22,43,50') throw new Error('wrong product ' + m.slice(8).join());
    console.log(i.bestIsa);`;
  const r = spawnSync(process.execPath, ['-e', check], { encoding: 'utf8' });
  if (r.status !== 0) {
    fs.rmSync(out, { force: true });
    return say(`built with ${how} but it does not work here (${(r.stderr || '').trim().split('\n').find((l) => /Error/.test(l)) ?? `exit ${r.status}`}); removed, the wasm kernels will be used`);
  }
  say(`built with ${how} (${r.stdout.trim()} kernel, ${os.availableParallelism()} cores): ${path.relative(root, out)}`);
}

try {
  main();
} catch (e) {
  say(`skipped after an unexpected error (${String(e?.message ?? e).split('\n')[0]}); the wasm kernels will be used`);
}
process.exitCode = 0;
