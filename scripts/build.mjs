#!/usr/bin/env node
// Build the single file:
//   dist/multus.mjs    one self-contained ES module (node or deno run -A)
//   dist/multus        a self-contained Linux amd64 executable: the same code
//                      compiled to bytecode by Bun (`bun build --compile
//                      --bytecode`); needs glibc >= 2.17, nothing else
//   dist/multus-arm64  the same for Linux arm64, cross-compiled offline
// Bun comes from the npm registry through package-lock.json (the `bun`
// devDependency, exact version). The arm64 runtime is that lockfile's
// @oven/bun-linux-aarch64 entry, installed into .tools/ by `npm ci --cpu=arm64`
// (npm skips it in the project's own install on an amd64 machine).
//
// Flags: --outdir=DIR builds into DIR instead of dist/; --no-exe builds only
// multus.mjs; --no-arm64 skips dist/multus-arm64; --fetch-runtimes only
// installs the runtimes the executables are made from, then exits.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outArg = process.argv.find((a) => a.startsWith("--outdir="));
const dist = outArg ? resolve(outArg.slice("--outdir=".length)) : join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8"));
const withExe = !process.argv.includes("--no-exe");
const withArm64 = withExe && !process.argv.includes("--no-arm64");

/** The executables: output name, Node's name for the CPU, Bun's package suffix and target. */
const TARGETS = [
  { file: "multus", cpu: "x64", pkgArch: "x64", target: "bun-linux-x64" },
  { file: "multus-arm64", cpu: "arm64", pkgArch: "aarch64", target: "bun-linux-arm64" },
];

// ---------------------------------------------------------------------------
// Bun runtimes

const bunVersion = lock.packages["node_modules/bun"]?.version;

function isElf(file) {
  if (!existsSync(file)) return false;
  const fd = openSync(file, "r");
  try {
    const b = Buffer.alloc(4);
    readSync(fd, b, 0, 4, 0);
    return b.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/** The Bun binary for this machine: bun's postinstall moves it to bun/bin/bun.exe; without install scripts it stays in the platform package. */
function hostBun() {
  const arch = process.arch === "arm64" ? "aarch64" : process.arch;
  for (const f of [join(root, "node_modules/bun/bin/bun.exe"), join(root, `node_modules/@oven/bun-linux-${arch}/bin/bun`)]) {
    if (isElf(f)) return f;
  }
  throw new Error("the bun package is not installed (npm ci)");
}

/**
 * The runtime binary an executable for `t` is made from. For another CPU:
 * the lockfile's @oven/bun-linux-<arch> entry (version and integrity) as the
 * only dependency of a small project in .tools/, installed by `npm ci --cpu`.
 */
function runtimeFor(t) {
  if (!bunVersion) throw new Error("package-lock.json has no bun entry");
  if (t.cpu === process.arch) return hostBun();
  const name = `@oven/bun-linux-${t.pkgArch}`;
  const dir = join(root, ".tools", `bun-linux-${t.pkgArch}-${bunVersion}`);
  const bin = join(dir, "node_modules", name, "bin", "bun");
  if (isElf(bin)) return bin;
  const entry = lock.packages[`node_modules/${name}`];
  if (!entry || entry.version !== bunVersion)
    throw new Error(`package-lock.json has no ${name}@${bunVersion} (npm install bun@${bunVersion})`);
  const { dev: _dev, ...pinned } = entry;
  const manifest = { name: `bun-runtime-${t.pkgArch}`, private: true, optionalDependencies: { [name]: bunVersion } };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(
    join(dir, "package-lock.json"),
    `${JSON.stringify({ name: manifest.name, lockfileVersion: 3, requires: true, packages: { "": manifest, [`node_modules/${name}`]: pinned } }, null, 2)}\n`,
  );
  console.log(`installing ${name}@${bunVersion} into ${dir}`);
  execFileSync(
    "npm",
    ["ci", `--cpu=${t.cpu}`, "--os=linux", "--libc=glibc", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
    {
      cwd: dir,
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  if (!isElf(bin)) throw new Error(`${bin} is missing after npm ci`);
  return bin;
}

/**
 * A CNI plugin inherits the container runtime's environment, and Bun reads
 * options from it whatever the build flags: BUN_OPTIONS (any runtime flag:
 * --preload, --config=bunfig.toml, --inspect …), BUN_INSPECT* (a debugger
 * listening or connecting, a preload), BUN_BE_BUN (the file becomes the
 * `bun` CLI and reads ./bunfig.toml), BUN_BYTECODE_*_OUT (write files where
 * they say), BUN_FEATURE_FLAG_* … So the runtime the executables are made
 * from reads no BUN_* variable at all: Bun looks each one up with getenv(3)
 * by a NUL-terminated name, and every such "BUN_…" string gets its first byte
 * changed to "=", which no shell, setenv(3) or env(1) puts in a variable's
 * name. The ones that run code or write files must each be found exactly
 * once, or the build stops: a new Bun version must be checked again
 * (tests/bun-env.test.ts). JavaScriptCore's options (BUN_JSC_<option>=…:
 * a bogus one makes every call exit 1, a tiny stack breaks DEL) are not
 * looked up by name; see jscOptionsOff.
 */
const MUST_IGNORE = [
  "BUN_OPTIONS",
  "BUN_BE_BUN",
  "BUN_INSPECT",
  "BUN_INSPECT_CONNECT_TO",
  "BUN_INSPECT_PRELOAD",
  "BUN_BYTECODE_ORDER_OUT",
  "BUN_BYTECODE_ORDER_NAMES_OUT",
  "BUN_BYTECODE_DIGEST_OUT",
  "BUN_FEATURE_FLAG_NO_ORPHANS",
];

const JSC_PREFIX = [...Buffer.from("BUN_JSC_")];

/** x64: `cmp byte [base+k], imm8` (optional REX, 0x80 /7, no index) at `at`: its base register and where its imm8 is. */
function x64CmpByte(buf, at, k) {
  let i = at;
  const rex = (buf[i] & 0xf0) === 0x40 ? buf[i++] : 0;
  if (buf[i++] !== 0x80) return undefined;
  const modrm = buf[i++];
  const mod = modrm >> 6;
  if (((modrm >> 3) & 7) !== 7 || mod > 1) return undefined;
  let base = modrm & 7;
  if (base === 4) {
    const sib = buf[i++];
    if (((sib >> 3) & 7) !== 4) return undefined;
    base = sib & 7;
  }
  if (mod === 0 && base === 5) return undefined; // rip-relative or absolute: not a pointer in a register
  const disp = mod === 1 ? buf[i++] : 0;
  if (disp !== k || buf[i] !== JSC_PREFIX[k]) return undefined;
  return { base: base | ((rex & 1) << 3), imm: i, next: i + 1 };
}

/** x64: the first-byte immediates of every `env[0] == 'B' && … && env[7] == '_'` chain (cmp, jne, cmp, jne …). */
function x64PrefixChecks(buf) {
  const found = [];
  for (let at = buf.indexOf(0x80); at >= 0; at = buf.indexOf(0x80, at + 1)) {
    const first = x64CmpByte(buf, (buf[at - 1] & 0xf0) === 0x40 ? at - 1 : at, 0);
    if (!first) continue;
    let c = first;
    for (let k = 1; c && k < JSC_PREFIX.length; k++) {
      const j = buf[c.next] === 0x75 ? c.next + 2 : buf[c.next] === 0x0f && buf[c.next + 1] === 0x85 ? c.next + 6 : -1;
      const n = j < 0 ? undefined : x64CmpByte(buf, j, k);
      c = n && n.base === first.base ? n : undefined;
    }
    if (c) found.push(first.imm);
  }
  return found;
}

/** arm64: the `cmp wT, #'B'` of every `ldrb wT, [xN, #k]; cmp wT, #c; b.ne` × 8 chain. */
function arm64PrefixChecks(buf) {
  const word = (i) => buf.readUInt32LE(i);
  const ldrb = (w) => ((w & 0xffc00000) === 0x39400000 ? { k: (w >> 10) & 0xfff, n: (w >> 5) & 31, t: w & 31 } : undefined);
  const cmpImm = (w, t) => ((w & 0xffc003ff) === (0x7100001f | (t << 5)) ? (w >> 10) & 0xfff : undefined);
  const bne = (w) => (w & 0xff00001f) === 0x54000001;
  const found = [];
  for (let i = 0; i + 4 * 3 * JSC_PREFIX.length <= buf.length; i += 4) {
    const l0 = ldrb(word(i));
    if (!l0 || l0.k !== 0 || cmpImm(word(i + 4), l0.t) !== JSC_PREFIX[0]) continue;
    let ok = true;
    for (let k = 0; ok && k < JSC_PREFIX.length; k++) {
      const at = i + 12 * k;
      const l = ldrb(word(at));
      ok = !!l && l.k === k && l.n === l0.n && cmpImm(word(at + 4), l.t) === JSC_PREFIX[k] && bne(word(at + 8));
    }
    if (ok) found.push(i + 4);
  }
  return found;
}

/**
 * JavaScriptCore's options come from the environment too: at start-up Bun
 * walks environ and hands every entry that starts with "BUN_JSC_" to
 * JSC::Options::setOption (any of hundreds of engine knobs; an unknown one
 * makes the process exit 1 before any of our code runs). The prefix is not
 * a string in the binary but eight byte comparisons in machine code; the
 * first compares with 'B'. It becomes '=' as for the getenv names: no
 * entry's name starts with "=". Exactly one such comparison must be found,
 * or the build stops.
 */
function jscOptionsOff(buf, cpu, src) {
  const found = cpu === "x64" ? x64PrefixChecks(buf) : arm64PrefixChecks(buf);
  if (found.length !== 1)
    throw new Error(`${src}: found the BUN_JSC_ prefix check ${found.length} times, expected once; check this Bun version by hand`);
  if (cpu === "x64") buf[found[0]] = 0x3d;
  else buf.writeUInt32LE((buf.readUInt32LE(found[0]) & ~(0xfff << 10)) | (0x3d << 10), found[0]);
}

function hardenedRuntime(src, out, cpu) {
  const buf = readFileSync(src);
  const found = new Map();
  const prefix = Buffer.from("\0BUN_");
  for (let at = buf.indexOf(prefix); at >= 0; at = buf.indexOf(prefix, at + 1)) {
    let end = at + prefix.length;
    while (end < buf.length && /[A-Za-z0-9_]/.test(String.fromCharCode(buf[end]))) end++;
    if (buf[end] !== 0 || end === at + prefix.length) continue; // not a whole NUL-terminated name
    const name = buf.toString("latin1", at + 1, end);
    found.set(name, (found.get(name) ?? 0) + 1);
    buf[at + 1] = 0x3d; // "="
  }
  for (const name of MUST_IGNORE) {
    if (found.get(name) !== 1)
      throw new Error(`${src}: found the getenv name ${name} ${found.get(name) ?? 0} times, expected once; check this Bun version by hand`);
  }
  jscOptionsOff(buf, cpu, src);
  writeFileSync(out, buf, { mode: 0o755 });
  return out;
}

if (process.argv.includes("--fetch-runtimes")) {
  for (const t of TARGETS) console.log(`${t.target}: ${runtimeFor(t)}`);
  process.exit(0);
}

// ---------------------------------------------------------------------------
// Bundles

// lib/wasm-bytes.ts reads the .wasm from disk during development; in the
// bundle the bytes are embedded instead, decoded on first use (a call whose
// config the validator already found valid never needs them), with their
// SHA-256 as the validator's identity.
const embedWasm = {
  name: "embed-wasm",
  setup(b) {
    b.onResolve({ filter: /wasm-bytes\.ts$/ }, (args) => ({
      path: resolve(args.resolveDir, args.path),
      namespace: "embed-wasm",
    }));
    b.onLoad({ filter: /.*/, namespace: "embed-wasm" }, () => {
      const bytes = readFileSync(join(root, "wasm/pkg/multus_validator_bg.wasm"));
      return {
        contents: [
          'import { Buffer } from "node:buffer";',
          `const b64 = ${JSON.stringify(bytes.toString("base64"))};`,
          "let bytes;",
          'export function wasmBytes() { return (bytes ??= new Uint8Array(Buffer.from(b64, "base64"))); }',
          `export function wasmId() { return ${JSON.stringify(createHash("sha256").update(bytes).digest("hex"))}; }`,
          "",
        ].join("\n"),
        resolveDir: root,
        loader: "js",
      };
    });
  },
};

// Optional dependencies that are not installed: node-fetch tries `encoding`
// inside a try/catch. Bundled as a module that throws, so the executable never
// asks the disk for it (which Node would warn about).
const absentOptional = {
  name: "absent-optional",
  setup(b) {
    b.onResolve({ filter: /^encoding$/ }, () => ({ path: "encoding", namespace: "absent-optional" }));
    b.onLoad({ filter: /.*/, namespace: "absent-optional" }, () => ({
      contents: 'throw new Error("optional module not bundled");',
      loader: "js",
    }));
  },
};

const common = {
  entryPoints: [join(root, "main.ts")],
  bundle: true,
  platform: "node",
  target: "node20",
  minify: true,
  legalComments: "none",
  loader: { ".wasm": "binary" },
  // Bun's own modules (lib/netns-probe.ts imports bun:ffi, only when Bun runs it).
  external: ["bun:*"],
  define: { MULTUS_VERSION: JSON.stringify(pkg.version) },
  plugins: [embedWasm, absentOptional],
  logLevel: "warning",
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const esm = await build({
  ...common,
  format: "esm",
  metafile: true,
  outfile: join(dist, "multus.mjs"),
  // Some CommonJS dependencies call require() for builtins.
  banner: { js: 'import{createRequire as __cr}from"node:module";const require=__cr(import.meta.url);' },
});
chmodSync(join(dist, "multus.mjs"), 0o755);
// What each package contributes to the bundle (read by npm run bench).
const sizes = {};
for (const [file, info] of Object.entries(Object.values(esm.metafile.outputs)[0].inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  const key = m ? m[1] : file.startsWith("embed-wasm:") || file.endsWith(".wasm") ? "wasm validator" : "project code";
  sizes[key] = (sizes[key] ?? 0) + info.bytesInOutput;
}
writeFileSync(join(dist, "bundle-sizes.json"), JSON.stringify(sizes, null, 2));

const built = [join(dist, "multus.mjs")];
if (withExe) {
  // For Bun, esbuild writes ES modules split at every dynamic import()
  // (the CLI, each verb, the validator, the Kubernetes client are chunks of
  // their own), and Bun compiles them to bytecode into the executable, still
  // split: a call loads only the chunks it imports, which a single module
  // would not allow (its top-level functions are all created at start-up).
  const work = mkdtempSync(join(tmpdir(), "multus-build-"));
  try {
    const split = join(work, "split");
    await build({
      ...common,
      format: "esm",
      splitting: true,
      outdir: split,
      entryNames: "multus",
      chunkNames: "chunk-[hash]",
      // Some CommonJS dependencies call require() for builtins.
      banner: { js: 'import{createRequire as __cr}from"node:module";const require=__cr(import.meta.url);' },
    });
    const bun = hostBun();
    for (const t of TARGETS) {
      if (t.cpu !== "x64" && !withArm64) continue;
      const runtime = hardenedRuntime(runtimeFor(t), join(work, `bun-${t.pkgArch}`), t.cpu);
      const exe = join(dist, t.file);
      execFileSync(
        bun,
        [
          "build",
          join(split, "multus.js"),
          "--compile",
          "--bytecode",
          "--format=esm",
          "--splitting",
          `--target=${t.target}`,
          `--compile-executable-path=${runtime}`,
          // A plugin runs in whatever directory the container runtime has:
          // never read .env or bunfig.toml from there.
          "--no-compile-autoload-dotenv",
          "--no-compile-autoload-bunfig",
          // A plugin process lives for tens of milliseconds: let code tier up
          // to the optimizing JITs 100 times later than usual.
          "--compile-jit-policy=100",
          `--outfile=${exe}`,
        ],
        // env -i: no BUN_* or NODE_* variable of this shell reaches the compiler.
        { cwd: work, stdio: ["ignore", "ignore", "inherit"], env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: work } },
      );
      chmodSync(exe, 0o755);
      built.push(exe);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const size = (f) => {
  const n = statSync(f).size;
  return n > 10 << 20 ? `${(n / 1048576).toFixed(0)} MiB` : `${(n / 1024).toFixed(0)} KiB`;
};
console.log(
  `built ${built.map((f) => `${f.startsWith(`${root}/`) ? f.slice(root.length + 1) : f} (${size(f)})`).join(", ")}${withExe ? ` with bun ${bunVersion}` : ""}`,
);
