#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled core (npm install builds it via `prepare`).
import { main } from '../dist/core/cli/main.js';

main(process.argv).then((code) => {
  process.exitCode = code;
});
