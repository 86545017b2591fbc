// The one HTTP host (DESIGN §5, §9): a listener with its limits, authentication, metrics and
// problem answers, serving plugins (HKP, the JSON API, later EST, OCSP/CRL, the console, the
// log). Public surface: the host for the wiring, and what it shares with its plugins.
export { createHttpServer } from './server.ts';
export { DEFAULT_HTTP_INIT, httpInit } from './init.ts';
export type { HttpAddress, HttpComponents, HttpInit, HttpPlugin, HttpServer, HttpTls } from './types.ts';
export * as HTTP_LIMITS from './limits.ts';

// For plugins.
export { type Access, AuthenticationRequired, type Caller } from './access.ts';
export { callerOf, type HttpContext } from './context.ts';
export { peerCertificates } from './peer-certificates.ts';
export { storeFigures } from './figures.ts';
export { ANSWER_CACHE_ENTRIES, RESULT_LIMIT, TOKEN_SCAN_CAP } from './limits.ts';
export { type HttpProblem, jsonProblem, type ProblemWriter, textProblem, toProblem } from './problems.ts';
export type { RecordCache } from './record-cache.ts';
export { noInputSchema, noQuery } from './schemas.ts';
export { outcomeJson } from './submission-answer.ts';
export { answerSubmission, ingestSubmission, originOf, requireWriter, submissionOf, type SubmissionVia } from './submissions.ts';
