#!/usr/bin/env node
// Regenerates the troubleshooting table in docs/reference.md from the errors the plugin
// can emit (every `new CniError(ErrorCode.X, "...")` in lib/). `--check`
// exits 1 when it is out of date.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const START = "<!-- errors:start -->";
const END = "<!-- errors:end -->";

const codes = {};
for (const m of readFileSync(join(root, "lib/cni/errors.ts"), "utf8").matchAll(/^\s+(\w+): (\d+),/gm)) codes[m[1]] = Number(m[2]);

// What an operator should do, per code.
const FIX = {
  IncompatibleVersion: "Use a `cniVersion` the plugin and every delegate support (`multus version` lists ours).",
  InvalidEnvironment: "The runtime (or your script) must set the named `CNI_*` variables; run `multus --help`.",
  IoFailure: "A file the plugin writes could not be written (the named path): check the dir exists and is writable by root.",
  DecodeFailure: "The config on stdin must be one JSON object: check the file the runtime reads (`multus validate FILE`).",
  InvalidNetworkConfig: "Fix the field or object named in the message; `multus doctor` checks installed plugins.",
  TryAgainLater: "Transient: the API server or the cluster network is not ready; the runtime retries.",
  PluginUnavailable:
    "Install the named plugin into the bin dir; or the cluster network is not up yet (its readiness file, its NetworkAttachmentDefinition, the API server): check its own pods.",
  PluginUnavailableLimited: "The cluster network reports itself unavailable; check its own pods.",
  DelegateFailed: "The named delegate plugin failed: its own message follows; check that plugin's config and logs.",
  CacheFailure: "The cache dir (`cniDir`) must be writable by root; `multus status` lists what is cached.",
  SandboxFailure: "The pod's network namespace is gone or unusable; the runtime will DEL and retry.",
  ApiFailure: "Check the kubeconfig's credentials and RBAC (`multus doctor --kubeconfig ...`).",
  AlreadyAttached: "The runtime sent ADD twice without DEL; DEL the container first.",
  Internal: "A bug: please report it with the log (`logLevel: debug`).",
};

function files(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

/** The string or template literal starting at src[i], with every ${…} shown as "…". */
function literal(src, i) {
  const q = src[i];
  if (q !== '"' && q !== "`") return undefined;
  let out = "";
  for (i++; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") {
      out += src[i + 1];
      i++;
    } else if (c === q) return out;
    else if (q === "`" && c === "$" && src[i + 1] === "{") {
      // Skip the expression, including nested braces and template literals.
      let depth = 0;
      for (i++; i < src.length; i++) {
        const d = src[i];
        if (d === "{") depth++;
        else if (d === "}" && --depth === 0) break;
        else if (d === "`" || d === '"' || d === "'") {
          const end = d === "'" ? src.indexOf("'", i + 1) : skipLiteral(src, i);
          i = end;
        }
      }
      out += "…";
    } else out += c;
  }
  return undefined;
}

function skipLiteral(src, i) {
  const q = src[i];
  for (i++; i < src.length; i++) {
    if (src[i] === "\\") i++;
    else if (src[i] === q) return i;
    else if (q === "`" && src[i] === "$" && src[i + 1] === "{") {
      let depth = 0;
      for (i++; i < src.length; i++) {
        if (src[i] === "{") depth++;
        else if (src[i] === "}" && --depth === 0) break;
        else if (src[i] === "`" || src[i] === '"') i = skipLiteral(src, i);
      }
    }
  }
  return i;
}

// What to do about one message, where the code's advice is not enough.
const SPECIFIC = [
  [
    /^cannot load kubeconfig/,
    "The netconf's `kubeconfig` (or `multus install --kubeconfig`) must name a readable kubeconfig on the node: check the path in the conf (`multus doctor` reads it); the DaemonSet writes one with `multus install --generate-kubeconfig`.",
  ],
];

const rows = new Map();
const add = (name, text, f) => {
  const t = text.replace(/\|/g, "\\|").replace(/\s+/g, " ");
  const key = `${codes[name]} ${t}`;
  const fix = SPECIFIC.find(([re]) => re.test(t))?.[1];
  if (!rows.has(key)) rows.set(key, { code: codes[name], name, text: t, file: relative(root, f), ...(fix ? { fix } : {}) });
};
for (const f of files(join(root, "lib"))) {
  const src = readFileSync(f, "utf8");
  for (const m of src.matchAll(/ErrorCode\.(\w+),\s*/g)) {
    if (!(m[1] in codes)) continue;
    const text = literal(src, m.index + m[0].length);
    if (text !== undefined) add(m[1], text, f);
  }
  // A local helper that makes the error from its first argument (`function invalid(msg: string) { return new CniError(ErrorCode.X, msg) }`): its calls.
  for (const h of src.matchAll(/function (\w+)\((\w+): string[^)]*\)[^{]*\{\s*return new CniError\(ErrorCode\.(\w+),\s*(\w+)[,)]/g)) {
    if (h[2] !== h[4] || !(h[3] in codes)) continue;
    for (const m of src.matchAll(new RegExp(`\\b${h[1]}\\(\\s*`, "g"))) {
      const text = literal(src, m.index + m[0].length);
      if (text !== undefined) add(h[3], text, f);
    }
  }
  // The annotation parsers report through fail(key, message): invalid config.
  for (const m of src.matchAll(/\bfail\(\s*key,\s*/g)) {
    const text = literal(src, m.index + m[0].length);
    if (text !== undefined) add("InvalidNetworkConfig", `<annotation>: ${text}`, f);
  }
}
// Kubernetes API failures are built from the API's own Status: the shapes.
for (const [name, text] of [
  ["ApiFailure", "<call, e.g. get pod ns/name>: 401 Unauthorized: …"],
  ["ApiFailure", "<call>: 403 Forbidden: …"],
  ["ApiFailure", "<call>: 404 NotFound: …"],
  ["ApiFailure", "<call>: 409 Conflict: … (after retries)"],
  ["TryAgainLater", "<call>: 429 TooManyRequests: … (after retries within apiDeadline)"],
  ["TryAgainLater", "<call>: 500 InternalError: … (after retries within apiDeadline)"],
  ["TryAgainLater", "<call>: no answer from https://…: … (timeout or connection error, after retries)"],
])
  add(name, text, join(root, "lib/k8s/errors.ts"));
for (const [k, r] of rows) if ((r.text.match(/[A-Za-z]/g) ?? []).length < 3) rows.delete(k);
const sorted = [...rows.values()].sort((a, b) => a.code - b.code || a.text.localeCompare(b.text));
let table = "| code | message (… is filled in) | where | what to do |\n|---|---|---|---|\n";
for (const r of sorted) table += `| ${r.code} | \`${r.text}\` | ${r.file} | ${r.fix ?? FIX[r.name] ?? ""} |\n`;

const readmePath = join(root, "docs", "reference.md");
const readme = readFileSync(readmePath, "utf8");
const a = readme.indexOf(START);
const b = readme.indexOf(END);
if (a < 0 || b < 0) throw new Error("docs/reference.md has no errors:start/errors:end markers");
const next = `${readme.slice(0, a + START.length)}\n${table}${readme.slice(b)}`;
if (process.argv.includes("--check")) {
  if (next !== readme) {
    console.error("docs/reference.md troubleshooting table is out of date: run node scripts/errors-doc.mjs");
    process.exit(1);
  }
} else {
  writeFileSync(readmePath, next);
  console.log(`${sorted.length} error messages documented`);
}
