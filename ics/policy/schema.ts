// The policy file's JSON Schema (schemas/policy.schema.json), compiled once with ajv, and
// its errors turned into one line each: the JSON path of the offending value and why.
import { createRequire } from 'node:module';
import AjvModule, { type ErrorObject } from 'ajv';

const require = createRequire(import.meta.url);
/** The schema as published in schemas/ (draft-07). */
export const POLICY_SCHEMA = require('../../schemas/policy.schema.json') as Readonly<Record<string, unknown>>;

// ajv ships CommonJS; its default export is the class under NodeNext resolution.
const Ajv = AjvModule as unknown as typeof AjvModule.default;
const validate = new Ajv({ allErrors: true, strict: true, useDefaults: true, verbose: true }).compile(POLICY_SCHEMA);

export interface PathProblem {
  /** JSON Pointer (RFC 6901); `''` is the whole document. */
  readonly path: string;
  readonly message: string;
}

/** Validates `value` in place, filling in defaults; returns every problem ([] when valid). */
export function schemaProblems(value: unknown): PathProblem[] {
  if (validate(value)) return [];
  const problems: PathProblem[] = [];
  const seen = new Set<string>();
  for (const error of validate.errors ?? []) {
    // `if` only repeats that its `then` / `else` branch failed, which has its own error.
    if (error.keyword === 'if') continue;
    const problem = describe(error);
    const key = `${problem.path}\n${problem.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push(problem);
    }
  }
  return problems;
}

export function pointer(segments: ReadonlyArray<string | number>): string {
  return segments.map((s) => `/${String(s).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

export function pointerSegments(path: string): string[] {
  return path === ''
    ? []
    : path
        .slice(1)
        .split('/')
        .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

const MAX_SHOWN_VALUE = 80;

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > MAX_SHOWN_VALUE ? `${text.slice(0, MAX_SHOWN_VALUE - 1)}…` : text;
}

function describe(error: ErrorObject): PathProblem {
  const at = error.instancePath;
  const params = error.params as Record<string, unknown>;
  if (/\/properties\/read\/(then|else)\/(type|const)$/.test(error.schemaPath)) {
    return { path: at, message: `must be "public" or an object with peers and/or authenticated (got ${shown(error.data)})` };
  }
  switch (error.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return { path: `${at}${pointer([String(params.additionalProperty)])}`, message: `unknown property (allowed: ${allowed.join(', ')})` };
    }
    case 'required':
      return { path: `${at}${pointer([String(params.missingProperty)])}`, message: 'required property is missing' };
    case 'enum':
      return { path: at, message: `must be one of ${(params.allowedValues as unknown[]).join(', ')} (got ${shown(error.data)})` };
    case 'const':
      return { path: at, message: `must be ${shown(params.allowedValue)} (got ${shown(error.data)})` };
    case 'pattern':
      return { path: at, message: `must match ${String(params.pattern)} (got ${shown(error.data)})` };
    case 'type': {
      // YAML reads an unquoted 40-digit fingerprint or an all-digit name as a number.
      const hint = params.type === 'string' && typeof error.data === 'number' ? '; quote it, YAML read it as a number' : '';
      return { path: at, message: `must be ${String(params.type)} (got ${shown(error.data)}${hint})` };
    }
    case 'uniqueItems':
      return { path: at, message: `must not repeat an item (items ${String(params.j)} and ${String(params.i)} are equal)` };
    default:
      return { path: at, message: error.message ?? `fails ${error.keyword}` };
  }
}
