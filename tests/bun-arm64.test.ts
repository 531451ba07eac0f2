// dist/multus-arm64 (cross-compiled by Bun) under qemu-user on this amd64
// machine: VERSION, and an ADD/CHECK/DEL in delegates mode in a real netns.
// The arm64 plugin exec's the host's amd64 delegates natively (qemu-user
// passes execve through to the kernel). binfmt_misc is not needed: qemu runs
// the file explicitly, with Debian's arm64 glibc (libc6-arm64-cross) as -L.
// In CI (env CI set) a missing qemu is a failure; elsewhere a visible skip.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import t from "tap";
import { addresses, links, makeNetns } from "./helpers/netns.ts";
import { unavailable } from "./helpers/prerequisite.ts";
import { PLUGIN } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

const ARM64 = join(dirname(PLUGIN), "multus-arm64");
const QEMU = "/usr/bin/qemu-aarch64-static";
const SYSROOT = "/usr/aarch64-linux-gnu";

const missing = [
  [QEMU, "qemu-user-static"],
  [join(SYSROOT, "lib/ld-linux-aarch64.so.1"), "libc6-arm64-cross"],
  [ARM64, "dist/multus-arm64 (npm run build)"],
]
  .filter(([f]) => !existsSync(f))
  .map(([, what]) => what);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function arm64(env: Record<string, string>, stdin: string, argv: string[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(QEMU, ["-L", SYSROOT, ARM64, ...argv], {
      env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b));
    child.stderr.on("data", (b: Buffer) => (stderr += b));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.on("error", () => {});
    child.stdin.end(stdin);
  });
}

if (missing.length > 0) {
  const why = `cannot run the arm64 executable, missing: ${missing.join(", ")} (apt-get install qemu-user-static libc6-arm64-cross)`;
  unavailable(why);
} else {
  t.test("dist/multus-arm64 is an arm64 executable and answers VERSION", async (t) => {
    const r = await arm64({ CNI_COMMAND: "VERSION" }, "");
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.same(JSON.parse(r.stdout), {
      cniVersion: "1.1.0",
      supportedVersions: ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
    const v = await arm64({}, "", ["version"]);
    t.match(v.stdout, /^multus \d+\.\d+\.\d+ /);
    // The arm64 runtime's BUN_JSC_ prefix check is patched too (scripts/build.mjs).
    const jsc = await arm64({ CNI_COMMAND: "VERSION", BUN_JSC_bogus: "1" }, "");
    t.equal(jsc.code, 0, `BUN_JSC_bogus=1 is not read: ${jsc.stdout}${jsc.stderr}`);
  });

  t.test("dist/multus-arm64 ADD, CHECK, DEL with [bridge, ptp] in a netns (the host's amd64 delegates)", async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    const conf = JSON.stringify(s.netconf([s.bridge(), s.ptp()]));
    const env = (command: string) => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: "arm64-1",
      CNI_NETNS: ns.path,
      CNI_IFNAME: "eth0",
      CNI_PATH: "/usr/lib/cni",
    });
    const add = await arm64(env("ADD"), conf);
    t.equal(add.code, 0, add.stdout + add.stderr);
    const result = JSON.parse(add.stdout);
    t.equal(result.cniVersion, "1.0.0");
    t.same(links(ns.name).sort(), ["eth0", "net1"]);
    t.match(addresses(ns.name, "eth0")[0], new RegExp(`^${s.subnets[0].prefix.replace(/\./g, "\\.")}\\.`));
    t.match(addresses(ns.name, "net1")[0], new RegExp(`^${s.subnets[1].prefix.replace(/\./g, "\\.")}\\.`));
    const check = await arm64(env("CHECK"), conf);
    t.equal(check.code, 0, check.stdout + check.stderr);
    const del = await arm64(env("DEL"), conf);
    t.equal(del.code, 0, del.stdout + del.stderr);
    t.same(links(ns.name), [], "both interfaces are gone");
  });
}
