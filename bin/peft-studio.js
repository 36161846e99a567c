#!/usr/bin/env node
// Runs the CLI from TypeScript source through tsx's loader (a runtime dependency), so the same
// command works from a git checkout and from an npm install without a separate build step.
require('tsx/cjs');
require('../engine/cli/main.ts');
