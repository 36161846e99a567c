#!/usr/bin/env node
// Node 20's test runner takes no globs, so this finds the test files and hands them to `node --test`.
// Usage: node scripts/run-tests.js [unit|integration|all] [extra node --test flags]
// Unit tests sit next to the code (engine/, webview/: *.test.ts, *.test.mjs); integration tests live in test/.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const [suite = 'all', ...flags] = process.argv.slice(2);
const roots = { unit: ['engine', 'webview'], integration: ['test'], all: ['engine', 'webview', 'test'] }[suite];
if (!roots) {
  console.error(`unknown suite "${suite}" (unit, integration, all)`);
  process.exit(2);
}

function find(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name.startsWith('.') ? [] : find(p);
    return /\.test\.(ts|mjs)$/.test(e.name) ? [p] : [];
  });
}

const files = roots.flatMap((r) => find(path.join(root, r))).sort();
const args = ['--import', 'tsx', '--test', '--test-reporter=spec', ...flags, ...files.map((f) => path.relative(root, f))];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
process.exit(r.status ?? 1);
