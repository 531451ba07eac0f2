/**
 * The documents of a YAML file, and where their string values are in it:
 * enough to give a NAD's spec.config JSON (a string inside YAML) or a pod's
 * annotation the line and column they have in the file. js-yaml's parse
 * listener gives each node's span; no second parser is needed.
 */
import { loadAll } from "js-yaml";

interface Scalar {
  doc: number;
  /** The span of the node in the text (from before its leading blanks to its end). */
  start: number;
  end: number;
  value: string;
}

export interface YamlIndex {
  docs: unknown[];
  /** Where document `doc` starts. */
  docStart(doc: number): number;
  /**
   * The text offset of `value[at]`, `value` being a string of document
   * `doc` (the last such string there, after the key `key` when given).
   */
  offsetIn(doc: number, value: string, at?: number, key?: string): number | undefined;
}

/** Parse every document of `text`; throws js-yaml's error for text that is not YAML. */
export function indexYaml(text: string): YamlIndex {
  const scalars: Scalar[] = [];
  const docStarts: number[] = [];
  const opened: number[] = [];
  const docs = loadAll(text, undefined, {
    listener(type, state) {
      if (type === "open") {
        if (opened.length === 0) docStarts.push(state.position);
        opened.push(state.position);
        return;
      }
      const start = opened.pop() ?? 0;
      if (state.kind === "scalar" && typeof state.result === "string") {
        scalars.push({ doc: docStarts.length - 1, start, end: state.position, value: state.result });
      }
    },
  });
  return {
    docs,
    docStart: (doc) => docStarts[doc] ?? 0,
    offsetIn(doc, value, at = 0, key) {
      let found: Scalar | undefined;
      scalars.forEach((s, i) => {
        if (s.doc === doc && s.value === value && (key === undefined || scalars[i - 1]?.value === key)) found = s;
      });
      return found && align(text, found, at);
    },
  };
}

/**
 * Where the character `at` of a scalar's value is in the text: its
 * characters are matched in order (quotes, escapes, indentation and line
 * folds of the YAML form are skipped over). Exact for JSON in a block
 * scalar or a quoted string, close for the rest.
 */
function align(text: string, s: Scalar, at: number): number {
  let p = s.start;
  for (let i = 0; i <= at && i < s.value.length; i++) {
    const q = text.indexOf(s.value[i], p);
    if (q < 0 || q >= s.end) continue; // a character the YAML form writes otherwise (an escape)
    if (i === at) return q;
    p = q + 1;
  }
  return Math.min(p, s.end);
}
