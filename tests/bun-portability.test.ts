// What the executables need from a node: glibc >= 2.17 and nothing else
// (no libstdc++), read from their dynamic symbol tables (objdump -T); and the
// amd64 file runs on a CPU without AVX/AVX2 (qemu's Nehalem model).
// In CI (env CI set) a missing tool is a failure; elsewhere a visible skip.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import t from "tap";
import { unavailable } from "./helpers/prerequisite.ts";
import { PLUGIN } from "./helpers/run-plugin.ts";

const FILES = [PLUGIN, join(dirname(PLUGIN), "multus-arm64")];
const OBJDUMP = "/usr/bin/objdump";
const QEMU_X86 = "/usr/bin/qemu-x86_64-static";

/** The highest version of each versioned library the file's dynamic symbols need, e.g. { GLIBC: "2.17" }. */
function needs(file: string): Record<string, string> {
  const out = execFileSync(OBJDUMP, ["-T", file], { encoding: "utf8", maxBuffer: 64 << 20 });
  const max: Record<string, string> = {};
  const num = (v: string) => v.split(".").map(Number);
  const newer = (a: string, b: string) => {
    const [x, y] = [num(a), num(b)];
    for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
    return false;
  };
  for (const m of out.matchAll(/\b(GLIBC|GLIBCXX|CXXABI|GCC)_([0-9.]+)\b/g)) {
    if (!max[m[1]] || newer(m[2], max[m[1]])) max[m[1]] = m[2];
  }
  return max;
}

if (!existsSync(OBJDUMP)) {
  unavailable("objdump is missing (apt-get install binutils)");
} else {
  for (const file of FILES) {
    if (!existsSync(file)) {
      unavailable(`${file} is not built (npm run build)`);
      continue;
    }
    t.test(`${file}: glibc 2.17 at most, no C++ runtime`, async (t) => {
      const n = needs(file);
      t.ok(n.GLIBC, "versioned glibc symbols found");
      const [major, minor] = n.GLIBC.split(".").map(Number);
      t.ok(major === 2 && minor <= 17, `needs GLIBC_${n.GLIBC}`);
      t.notOk(n.GLIBCXX ?? n.CXXABI, "no libstdc++ symbols");
    });
  }
}

if (!existsSync(QEMU_X86)) {
  unavailable("qemu-x86_64-static is missing (apt-get install qemu-user-static)");
} else {
  t.test("the amd64 executable runs on a CPU without AVX2 (qemu -cpu Nehalem)", async (t) => {
    const out = execFileSync(QEMU_X86, ["-cpu", "Nehalem", PLUGIN], {
      env: { PATH: process.env.PATH, CNI_COMMAND: "VERSION" },
      encoding: "utf8",
      timeout: 60_000,
    });
    t.equal(JSON.parse(out).cniVersion, "1.1.0");
  });
}
