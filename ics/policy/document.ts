// Policy file text to a plain value: JSON (RFC 8259) or YAML 1.2 (core schema, unique keys,
// no custom tags, bounded aliases), plus a locator from a JSON path to line and column.
import { extname } from 'node:path';
import { type Document, isNode, LineCounter, parseDocument, type YAMLError } from 'yaml';

export type PolicyFormat = 'json' | 'yaml';

export interface Position {
  readonly line: number;
  readonly column: number;
}

export interface DocumentProblem {
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

export interface PolicyDocument {
  /** The parsed value; undefined when `problems` is not empty. */
  readonly value: unknown;
  readonly problems: readonly DocumentProblem[];
  /** Where the node at `path` (or its nearest existing ancestor) starts in the text. */
  locate(path: readonly string[]): Position | undefined;
}

/**
 * Aliases expand on conversion; a handful of nested aliases can otherwise grow into
 * gigabytes (the "billion laughs" attack). A policy has no use for more than a few.
 */
const MAX_ALIAS_COUNT = 100;

/** `.json` is JSON, `.yaml` / `.yml` is YAML; otherwise a document starting with `{` is JSON. */
export function formatOf(source: string, text: string): PolicyFormat {
  const ext = extname(source).toLowerCase();
  if (ext === '.json') return 'json';
  if (ext === '.yaml' || ext === '.yml') return 'yaml';
  return text.trimStart().startsWith('{') ? 'json' : 'yaml';
}

export function readDocument(text: string, format: PolicyFormat): PolicyDocument {
  const lines = new LineCounter();
  // Valid JSON is valid YAML 1.2, so the YAML parser also serves JSON files: for the
  // positions of schema errors and to refuse duplicate keys, which JSON.parse lets through.
  const doc = parseDocument(text, {
    prettyErrors: true,
    uniqueKeys: true,
    strict: true,
    schema: 'core',
    customTags: [],
    lineCounter: lines,
  });
  const locate = (path: readonly string[]) => locateIn(doc, lines, path);
  const problems: DocumentProblem[] = [];
  if (format === 'json') {
    try {
      const value: unknown = JSON.parse(text);
      for (const e of doc.errors.filter((x) => x.code === 'DUPLICATE_KEY')) problems.push(yamlProblem(e));
      return { value: problems.length > 0 ? undefined : value, problems, locate };
    } catch (error) {
      return { value: undefined, problems: [jsonProblem(error as Error, text, doc)], locate };
    }
  }
  for (const e of [...doc.errors, ...doc.warnings]) problems.push(yamlProblem(e));
  if (problems.length > 0) return { value: undefined, problems, locate };
  try {
    return { value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), problems, locate };
  } catch (error) {
    return { value: undefined, problems: [{ message: (error as Error).message }], locate };
  }
}

function yamlProblem(e: YAMLError): DocumentProblem {
  // prettyErrors appends " at line L, column C:" and a snippet of the text; keep the sentence.
  const message = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
  const at = e.linePos?.[0];
  return at ? { message, line: at.line, column: at.col } : { message };
}

function jsonProblem(error: Error, text: string, doc: Document): DocumentProblem {
  const message = `JSON syntax error: ${error.message.replace(/\s+/g, ' ').replace(/ in JSON at position \d+.*$/, '')}`;
  // V8 names the offset in some versions ("at position N", "(line L column C)") and not in
  // others; the YAML parser, which reads JSON too, then says where it stopped.
  const lineColumn = /\(line (\d+) column (\d+)\)/.exec(error.message);
  if (lineColumn) return { message, line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const offset = /at position (\d+)/.exec(error.message)?.[1];
  if (offset !== undefined) {
    const before = text.slice(0, Number(offset)).split('\n');
    return { message, line: before.length, column: (before.at(-1)?.length ?? 0) + 1 };
  }
  const at = doc.errors[0]?.linePos?.[0];
  return at ? { message, line: at.line, column: at.col } : { message };
}

function locateIn(doc: Document, lines: LineCounter, path: readonly string[]): Position | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (isNode(node) && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return { line, column: col };
    }
  }
  return undefined;
}
