// Entry of the submission decoder's worker thread: worker threads do not inherit the main
// thread's TypeScript loader, so the worker registers tsx itself before loading its module.
import { register } from 'tsx/esm/api';

register();
await import('./submission-worker.ts');
