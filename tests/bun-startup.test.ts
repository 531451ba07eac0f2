// What an ADD does not repeat: the WebAssembly validator runs once per
// distinct config. A valid input is remembered in /run/multus/validated
// (file: the validator's identity and the input's exact JSON text), so the
// node's config does not compile the validator on every ADD; an invalid
// input is never remembered, and only an exact match of the text counts.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { VALID_MEMO_DIR } from "../lib/validate.ts";
import { makeNetns } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

/** The memo files whose remembered input contains `needle` (a test's own bridge name, random). */
function remembered(needle: string): string[] {
  if (!existsSync(VALID_MEMO_DIR)) return [];
  return readdirSync(VALID_MEMO_DIR)
    .filter((f) => !f.endsWith(".tmp"))
    .map((f) => join(VALID_MEMO_DIR, f))
    .filter((f) => {
      try {
        return readFileSync(f, "utf8").includes(needle);
      } catch {
        return false; // evicted meanwhile by another call (the memo is bounded)
      }
    });
}

t.test("a valid config is remembered after its first ADD; the next ADD passes without the validator", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([s.bridge()]);
  const call = (command: string, containerId: string) => runPlugin({ command, containerId, netns: ns.path, stdin: conf });
  t.same(remembered(s.bridgeName), [], "not seen before");
  const add = await call("ADD", "memo-1");
  t.equal(add.code, 0, add.stdout);
  const files = remembered(s.bridgeName);
  t.equal(files.length, 1, "one memo file for the config");
  t.equal(statSync(files[0]).mode & 0o777, 0o600, "readable by root only");
  t.equal(statSync(VALID_MEMO_DIR).mode & 0o777, 0o700);
  const [id, text] = readFileSync(files[0], "utf8").split("\n");
  t.match(id, /^[0-9a-f]{64}$/, "the validator's identity (SHA-256 of its bytes)");
  t.same(JSON.parse(text), { netconf: conf }, "and the exact input");
  t.equal((await call("DEL", "memo-1")).code, 0);
  const again = await call("ADD", "memo-2");
  t.equal(again.code, 0, again.stdout);
  t.same(remembered(s.bridgeName), files, "still one");
  t.equal((await call("DEL", "memo-2")).code, 0);
});

t.test("an invalid config is never remembered: every ADD reports all its problems", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const bad = s.netconf([s.bridge({ ipam: { type: "host-local", subnet: `${s.subnets[0].prefix}.0/33`, dataDir: s.ipamDir } })]);
  for (const id of ["memo-bad-1", "memo-bad-2"]) {
    const r = await runPlugin({ command: "ADD", containerId: id, netns: ns.path, stdin: bad });
    t.equal(r.code, 1);
    t.equal(r.json?.code, 7, "invalid network config");
    t.match(String(r.json?.msg), /not a valid CIDR/);
  }
  t.same(remembered(s.bridgeName), [], "nothing remembered");
});

t.test("a memo file that does not hold the exact input is ignored", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const good = s.netconf([s.bridge()]);
  const add = await runPlugin({ command: "ADD", containerId: "memo-x", netns: ns.path, stdin: good });
  t.equal(add.code, 0, add.stdout);
  t.equal((await runPlugin({ command: "DEL", containerId: "memo-x", netns: ns.path, stdin: good })).code, 0);
  const [file] = remembered(s.bridgeName);
  // Same file name, other content (as a hash collision would be): validated again, and rewritten.
  const original = readFileSync(file, "utf8");
  writeFileSync(file, original.replace(s.subnets[0].cidr, `${s.subnets[0].prefix}.0/33`));
  const r = await runPlugin({ command: "ADD", containerId: "memo-y", netns: ns.path, stdin: good });
  t.equal(r.code, 0, r.stdout);
  t.equal(readFileSync(file, "utf8"), original, "validated and remembered again");
  t.equal((await runPlugin({ command: "DEL", containerId: "memo-y", netns: ns.path, stdin: good })).code, 0);
});
