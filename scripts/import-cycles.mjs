#!/usr/bin/env node
// Fails (exit 1) when modules of lib/ and main.ts import each other in a
// cycle, printing each cycle. Static imports, re-exports and dynamic
// `import()`s count: a lazily loaded module that loads its loader back is
// still a cycle. Type-only imports (`import type`, `{ type A }` alone) load
// nothing at run time and are left out.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

function tsFiles(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return tsFiles(p);
    return p.endsWith(".ts") && !p.endsWith(".d.ts") ? [p] : [];
  });
}

/** Whether an import declaration loads its module (not when it names types only). */
function loads(decl) {
  const clause = decl.importClause;
  if (!clause) return true; // import "x"
  if (clause.isTypeOnly) return false;
  if (clause.name) return true;
  const b = clause.namedBindings;
  if (!b || ts.isNamespaceImport(b)) return true;
  return b.elements.length === 0 || b.elements.some((e) => !e.isTypeOnly);
}

/** The modules `file` loads at run time (relative .ts specifiers, resolved). */
export function importsOf(file, src = readFileSync(file, "utf8")) {
  const sf = ts.createSourceFile(file, src, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const specs = [];
  const walk = (node) => {
    if (ts.isImportDeclaration(node) && loads(node)) specs.push(node.moduleSpecifier.text);
    else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly) specs.push(node.moduleSpecifier.text);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg && ts.isStringLiteralLike(arg)) specs.push(arg.text);
    }
    ts.forEachChild(node, walk);
  };
  walk(sf);
  return specs.filter((s) => s.startsWith(".") && s.endsWith(".ts")).map((s) => resolve(dirname(file), s));
}

/** The cycles of `graph` (module → modules it loads), each once, starting at its first module by name. */
export function findCycles(graph) {
  const cycles = new Map();
  const onStack = new Set();
  const done = new Set();
  const stack = [];
  const visit = (n) => {
    onStack.add(n);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (onStack.has(m)) {
        const cycle = stack.slice(stack.indexOf(m));
        const first = cycle.indexOf([...cycle].sort()[0]);
        const canonical = [...cycle.slice(first), ...cycle.slice(0, first)];
        cycles.set(canonical.join(" "), canonical);
      } else if (!done.has(m)) visit(m);
    }
    stack.pop();
    onStack.delete(n);
    done.add(n);
  };
  for (const n of [...graph.keys()].sort()) if (!done.has(n)) visit(n);
  return [...cycles.values()];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = [join(root, "main.ts"), ...tsFiles(join(root, "lib"))];
  const graph = new Map(files.map((f) => [f, importsOf(f)]));
  const cycles = findCycles(graph);
  const name = (f) => relative(root, f);
  for (const c of cycles) console.error(`import cycle: ${[...c, c[0]].map(name).join(" -> ")}`);
  if (cycles.length) process.exit(1);
  console.log(`no import cycle among ${files.length} modules`);
}
