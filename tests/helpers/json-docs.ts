// The `--json` schemas of docs/reference.md, as tests read them: each
// `### multus CMD --json` section's field table, and a check that an output
// has exactly those fields, of those types.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Test } from "tap";
import { ROOT } from "./run-plugin.ts";

interface Field {
  type: string;
  optional: boolean;
}

/** The field table of `### multus CMD --json` in docs/reference.md: field path → type. */
function documented(cmd: string): Map<string, Field> {
  const text = readFileSync(join(ROOT, "docs/reference.md"), "utf8");
  const start = text.indexOf(`### multus ${cmd} --json`);
  if (start < 0) throw new Error(`docs/reference.md has no section "multus ${cmd} --json"`);
  const end = text.indexOf("\n#", start + 1);
  const out = new Map<string, Field>();
  for (const m of text.slice(start, end).matchAll(/^\| `([^`]+)` \| ([^|]+) \|/gm)) {
    out.set(m[1], { type: m[2].replace(/, optional$/, "").trim(), optional: m[2].includes("optional") });
  }
  return out;
}

const typeOf = (v: unknown): string =>
  v === null ? "null" : Array.isArray(v) ? "list" : typeof v === "object" ? "object" : (typeof v as string);

/** Every field path of `v` with its value (`a[].b` for list items), not descending into free-form objects (conf.content). */
function fields(v: unknown, base = "", out = new Map<string, unknown[]>(), opaque = new Set<string>()): Map<string, unknown[]> {
  if (typeOf(v) === "object" && !opaque.has(base)) {
    for (const [k, x] of Object.entries(v as object)) {
      const p = base ? `${base}.${k}` : k;
      out.set(p, [...(out.get(p) ?? []), x]);
      fields(x, p, out, opaque);
    }
  } else if (Array.isArray(v)) for (const x of v) fields(x, `${base}[]`, out, opaque);
  return out;
}

/** The output's fields are the documented ones, of the documented types; every field that is not optional is there. */
export function matchesDocs(t: Test, cmd: string, output: unknown): void {
  const doc = documented(cmd);
  t.ok(doc.size > 3, `docs/reference.md documents multus ${cmd} --json`);
  // A documented object (or list of objects) whose own fields the table does not list is free-form (conf.content, a plugin's stdin).
  const listed = (p: string) => [...doc.keys()].some((k) => k.startsWith(`${p}.`) || k.startsWith(`${p}[].`));
  const opaque = new Set(
    [...doc]
      .filter(([k, f]) => /^(object|list of objects)\b/.test(f.type) && !listed(k))
      .map(([k, f]) => (f.type.startsWith("list") ? `${k}[]` : k)),
  );
  const got = fields(output, "", new Map(), opaque);
  for (const [path, values] of got) {
    const f = doc.get(path);
    t.ok(f, `${cmd}: ${path} is documented`);
    if (!f) continue;
    for (const v of values) {
      const type = typeOf(v);
      const allowed = f.type.startsWith("list") ? type === "list" : f.type.split(" or ").includes(type);
      t.ok(allowed, `${cmd}: ${path} is a ${f.type} (got ${type})`);
    }
  }
  for (const [path, f] of doc) {
    const parent = path.includes(".") ? path.slice(0, path.lastIndexOf(".")) : "";
    // A field of list items is only there when the list has items.
    const parentThere = parent === "" || [...got.keys()].some((k) => k === parent || k.startsWith(`${parent}.`));
    if (!f.optional && parentThere && (parent === "" || got.has(parent) || [...got.keys()].some((k) => k.startsWith(`${parent}.`))))
      t.ok(got.has(path), `${cmd}: ${path} is there`);
  }
}
