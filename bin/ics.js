#!/usr/bin/env node
// Launcher: runs the TypeScript sources through the project's loader (ts-loader.mjs).
import './ts-loader.mjs';

await import('../ics/cli/main.ts');
