#!/usr/bin/env node
// Launcher: runs the TypeScript sources directly through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('../ics/cli/main.ts');
