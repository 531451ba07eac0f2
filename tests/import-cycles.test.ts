// scripts/import-cycles.mjs (run by scripts/lint.sh): no module of lib/ or
// main.ts loads itself back, through static imports, re-exports or lazy
// import()s; type-only imports load nothing and do not count.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { functionsOf } from "../scripts/function-size.mjs";
import { findCycles, importsOf } from "../scripts/import-cycles.mjs";
import { tempDir } from "./helpers/netns.ts";
import { ROOT } from "./helpers/run-plugin.ts";

function graphOf(dir: string, files: Record<string, string>): Map<string, string[]> {
  for (const [name, src] of Object.entries(files)) writeFileSync(join(dir, name), src);
  return new Map(Object.keys(files).map((n) => [join(dir, n), importsOf(join(dir, n))]));
}

t.test("a cycle through a lazy import() is found and printed in order", async (t) => {
  const dir = tempDir(t);
  const g = graphOf(dir, {
    "a.ts": `import { b } from "./b.ts";\nexport const a = () => b;\n`,
    "b.ts": `export async function b() {\n  return (await import("./c.ts")).c;\n}\n`,
    "c.ts": `export { a as c } from "./a.ts";\n`,
    "d.ts": `import "./a.ts";\n`,
  });
  t.same(
    findCycles(g).map((c: string[]) => c.map((f) => f.slice(dir.length + 1))),
    [["a.ts", "b.ts", "c.ts"]],
  );
});

t.test("type-only imports and comments load nothing", async (t) => {
  const dir = tempDir(t);
  const g = graphOf(dir, {
    "a.ts": `import type { B } from "./b.ts";\nimport { type C } from "./c.ts";\nexport type A = B | C;\n`,
    "b.ts": `// import { a } from "./a.ts";\nimport type { A } from "./a.ts";\nexport type B = A[];\n`,
    "c.ts": `/* await import("./a.ts") */\nexport type C = string;\n`,
  });
  t.same(findCycles(g), []);
});

t.test("lib/ and main.ts have no import cycle", async (t) => {
  const out = execFileSync("node", [join(ROOT, "scripts", "import-cycles.mjs")], { encoding: "utf8" });
  t.match(out, /no import cycle among \d+ modules/);
});

t.test("function sizes: every function is measured, an anonymous one under its enclosing name", async (t) => {
  const dir = tempDir(t);
  const file = join(dir, "m.ts");
  const body = Array.from({ length: 60 }, (_, i) => `  x += ${i};`).join("\n");
  writeFileSync(
    file,
    `export function big(): number {\n  let x = 0;\n${body}\n  return x;\n}\nexport const small = () => 1;\nexport function outer() {\n  return [1].map((n) => {\n${body}\n    return n;\n  });\n}\n`,
  );
  const fns = functionsOf(file).map((f) => [f.name, f.lines]);
  t.same(fns, [
    ["big", 64],
    ["small", 1],
    ["outer", 65],
    ["outer", 63],
  ]);
});

t.test("the ADD/DEL path's functions have at most 50 lines (bar the listed exceptions)", async (t) => {
  const out = execFileSync("node", [join(ROOT, "scripts", "function-size.mjs")], { encoding: "utf8" });
  t.match(out, /modules on the ADD\/DEL path; longest function within the rule: /);
});
