#!/usr/bin/env node
// Build the single file:
//   dist/multus.mjs  one self-contained ES module (node or deno)
//   dist/multus      a self-contained executable (Node single executable
//                    application with a code cache): no Node needed on the host.
// `--no-sea` skips the executable; `--outdir=DIR` builds into DIR instead of dist/.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outArg = process.argv.find((a) => a.startsWith("--outdir="));
const dist = outArg ? resolve(outArg.slice("--outdir=".length)) : join(root, "dist");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const withSea = !process.argv.includes("--no-sea");

// lib/wasm-bytes.ts reads the .wasm from disk during development; in the
// bundle the bytes are embedded instead.
const embedWasm = {
  name: "embed-wasm",
  setup(b) {
    b.onResolve({ filter: /wasm-bytes\.ts$/ }, (args) => ({
      path: resolve(args.resolveDir, args.path),
      namespace: "embed-wasm",
    }));
    b.onLoad({ filter: /.*/, namespace: "embed-wasm" }, () => ({
      contents:
        'import bytes from "./wasm/pkg/multus_validator_bg.wasm";\nexport function wasmBytes() { return bytes; }\n',
      resolveDir: root,
      loader: "js",
    }));
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

if (withSea) {
  // The SEA runs one CommonJS script.
  const cjs = join(dist, "multus.cjs");
  await build({ ...common, format: "cjs", outfile: cjs });
  const blob = join(dist, "multus.blob");
  const seaConfig = join(dist, "sea-config.json");
  writeFileSync(
    seaConfig,
    JSON.stringify({ main: cjs, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true }),
  );
  execFileSync(process.execPath, ["--experimental-sea-config", seaConfig], { stdio: "inherit" });
  const exe = join(dist, "multus");
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  execFileSync(
    process.execPath,
    [
      join(root, "node_modules/postject/dist/cli.js"),
      exe,
      "NODE_SEA_BLOB",
      blob,
      "--sentinel-fuse",
      "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2",
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  rmSync(blob);
  rmSync(cjs);
  rmSync(seaConfig);
}

const size = (f) => (existsSync(f) ? `${(statSync(f).size / 1024).toFixed(0)} KiB` : "-");
console.log(`built dist/multus.mjs (${size(join(dist, "multus.mjs"))})${withSea ? `, dist/multus (${size(join(dist, "multus"))})` : ""}`);
