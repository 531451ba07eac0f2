#!/usr/bin/env node
// The ADD/DEL path's functions stay short: every function (declaration,
// method, arrow, expression) in a module that ADD or DEL loads
// (lib/commands/add.ts and lib/commands/del.ts, and what they import,
// statically or lazily) has at most 50 lines. Fails (exit 1) naming each
// longer one, except those listed below with the reason they are longer.
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { importsOf } from "./import-cycles.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const MAX_LINES = 50;

/** Longer functions that predate the rule, `file:name`, each with why it is not split yet. */
const KNOWN = new Map([]);

/** The modules `entries` load, themselves included. */
export function reachable(entries) {
  const seen = new Set();
  const walk = (f) => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const d of importsOf(f)) walk(d);
  };
  for (const e of entries) walk(e);
  return [...seen].sort();
}

/** Every function of `file` with a body: its name (the enclosing one's, for an anonymous one), line and length. */
export function functionsOf(file, src = readFileSync(file, "utf8")) {
  const sf = ts.createSourceFile(file, src, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out = [];
  const visit = (node, outer) => {
    let name = outer;
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const own =
        node.name?.getText(sf) ?? (node.parent && ts.isVariableDeclaration(node.parent) ? node.parent.name.getText(sf) : undefined);
      name = own ?? outer ?? "(anonymous)";
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      out.push({ name, line: start + 1, lines: end - start + 1 });
    }
    ts.forEachChild(node, (c) => visit(c, name));
  };
  visit(sf, undefined);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const modules = reachable([join(root, "lib/commands/add.ts"), join(root, "lib/commands/del.ts")]);
  const over = [];
  let longest = { lines: 0, where: "" };
  for (const m of modules) {
    for (const f of functionsOf(m)) {
      const key = `${relative(root, m)}:${f.name}`;
      if (f.lines <= MAX_LINES) {
        if (f.lines > longest.lines) longest = { lines: f.lines, where: `${relative(root, m)}:${f.line} ${f.name}` };
      } else if (!KNOWN.has(key))
        over.push(`${relative(root, m)}:${f.line}: ${f.name} has ${f.lines} lines (at most ${MAX_LINES} on the ADD/DEL path)`);
    }
  }
  for (const o of over) console.error(o);
  if (over.length) process.exit(1);
  console.log(
    `${modules.length} modules on the ADD/DEL path; longest function within the rule: ${longest.where} (${longest.lines} lines); ${KNOWN.size} listed exceptions`,
  );
}
