// Entry of the submission decoder's worker thread: worker threads do not inherit the main
// thread's TypeScript loader, so the worker registers it itself before loading its module.
import '#ts-loader';

await import('./submission-worker.ts');
