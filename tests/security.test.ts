// A delegate type is a bare plugin name: a path is refused before anything runs.
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { links, makeNetns, tempDir } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

function trap(t: Parameters<typeof tempDir>[0]): { dir: string; script: string; marker: string } {
  const dir = tempDir(t);
  const marker = join(dir, "executed");
  const script = join(dir, "evil");
  writeFileSync(script, `#!/bin/sh\ntouch ${marker}\necho '{"cniVersion":"1.0.0"}'\n`);
  chmodSync(script, 0o755);
  return { dir, script, marker };
}

const cases: [string, (script: string) => Record<string, unknown>, RegExp][] = [
  ["a relative path with ..", (p) => ({ type: `../../../../../..${p}` }), /delegates\[1\]\.type: ".*" is a path/],
  ["an absolute path", (p) => ({ type: p }), /delegates\[1\]\.type: ".*" is a path/],
  ["a backslash", () => ({ type: "bridge\\evil" }), /delegates\[1\]\.type: ".*" is a path/],
  ["a path as ipam.type", (p) => ({ type: "ptp", ipam: { type: `..${p}` } }), /delegates\[1\]\.ipam\.type: ".*" is a path/],
  [
    "a path in a conflist plugin",
    (p) => ({ plugins: [{ type: "ptp" }, { type: p }] }),
    /delegates\[1\]\.plugins\[1\]\.type: ".*" is a path/,
  ],
];

for (const [what, make, msg] of cases) {
  t.test(`type with ${what} is rejected with code 7 and never executed`, async (t) => {
    const s = scenario(t);
    const ns = makeNetns(t);
    const { script, marker } = trap(t);
    const conf = s.netconf([s.bridge(), { cniVersion: "1.0.0", name: "evil", ...make(script) }]);
    for (const command of ["ADD", "DEL", "CHECK"]) {
      const r = await runPlugin({ command, containerId: "sec1", netns: ns.path, stdin: conf });
      t.equal(r.code, 1, `${command} fails`);
      t.equal(r.json!.code, 7, command);
      t.match(r.json!.msg, msg);
    }
    t.notOk(existsSync(marker), "the script never ran");
    t.same(links(ns.name), [], "nothing attached");
  });
}

t.test("the cache record is readable by root only", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const call = { containerId: "sec2", netns: ns.path, stdin: s.netconf([s.bridge()]) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  const { statSync } = await import("node:fs");
  t.equal(statSync(join(s.cniDir, "sec2")).mode & 0o777, 0o600);
  t.equal(statSync(s.cniDir).mode & 0o777, 0o700);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("a container ID that is not a safe file name is refused", async (t) => {
  const s = scenario(t);
  const r = await runPlugin({ command: "DEL", containerId: "../../etc/passwd", stdin: s.netconf([s.bridge()]) });
  t.equal(r.json!.code, 4);
  t.match(r.json!.msg, /CNI_CONTAINERID ".*" has invalid characters/);
});
