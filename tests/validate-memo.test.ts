// The memo of valid inputs (lib/validate.ts assertValid): bounded in count and
// bytes, the oldest entries evicted first; per-pod data (runtimeConfig, a
// pod's cni-args) shares one entry; large inputs are never remembered; an
// entry that is not a regular file holding the exact input is ignored.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import type { JsonObject } from "../lib/json.ts";
import { assertValid, MEMO_MAX_ENTRIES, MEMO_MAX_ENTRY_BYTES, type ValidatorInput, validateInput } from "../lib/validate.ts";
import { tempDir } from "./helpers/netns.ts";

const netconf = (name: string, extra: JsonObject = {}): ValidatorInput => ({
  netconf: { cniVersion: "1.0.0", name, type: "multus", delegates: [{ name: "b", type: "bridge" }], ...extra },
});
const entries = (dir: string): string[] => readdirSync(dir).filter((f) => !f.endsWith(".tmp"));

t.test("per-pod data does not make an entry per pod", async (t) => {
  const dir = tempDir(t);
  for (let pod = 0; pod < 20; pod++) {
    // What a runtime adds to our netconf for one pod.
    const mac = `0a:58:0a:01:00:${pod.toString(16).padStart(2, "0")}`;
    assertValid(
      netconf("m", {
        runtimeConfig: { mac, ips: [`10.1.0.${pod}/24`], portMappings: [{ hostPort: 8000 + pod, containerPort: 80, protocol: "tcp" }] },
      }),
      {
        memoDir: dir,
      },
    );
    // A NAD's config with one pod's cni-args merged in, and its interface.
    assertValid(
      {
        attachments: [
          { path: "ns/a", ifname: "net1", config: { name: "a", type: "macvlan", args: { cni: { pod, ips: [`10.1.0.${pod}/24`], mac } } } },
          { path: "ns/b", ifname: "net2", config: { name: "b", plugins: [{ type: "ptp", args: { cni: { pod } } }, { type: "tuning" }] } },
        ],
      },
      { memoDir: dir },
    );
  }
  t.equal(entries(dir).length, 2, "one entry for the netconf, one for the pod's networks");
});

t.test("the validator's answer does not depend on the per-pod fields the memo leaves out", async (t) => {
  const odd = [{}, { ips: "x" }, { cni: [1, 2] }, { portMappings: [{ hostPort: "no" }], bandwidth: { x: null } }];
  for (const v of odd) {
    const base = netconf("m", { runtimeConfig: {}, args: {} });
    t.same(validateInput(netconf("m", { runtimeConfig: v, args: v })), validateInput(base), `netconf ${JSON.stringify(v)}`);
    const att = (x: JsonObject): ValidatorInput => ({
      attachments: [{ path: "ns/a", config: { name: "a", plugins: [{ type: "ptp", args: x, runtimeConfig: x }] } }],
    });
    t.same(validateInput(att(v)), validateInput(att({})), `attachment ${JSON.stringify(v)}`);
  }
  // Not an object at all is still an error, and still reported.
  t.match(validateInput(netconf("m", { runtimeConfig: [] })), { type: "invalid", errors: [{ path: "runtimeConfig" }] });
  assertValid(netconf("m", { runtimeConfig: {} }), { memoDir: tempDir(t) });
  t.throws(() => assertValid(netconf("m", { runtimeConfig: [] }), { memoDir: tempDir(t) }), { code: 7 });
});

t.test("bounded in count: the oldest entries are evicted first", async (t) => {
  const dir = tempDir(t);
  const total = MEMO_MAX_ENTRIES + 40;
  for (let i = 0; i < total; i++) assertValid(netconf(`net-${i}`), { memoDir: dir });
  const left = entries(dir);
  t.ok(left.length <= MEMO_MAX_ENTRIES, `${left.length} entries after ${total} distinct inputs`);
  t.ok(left.length >= MEMO_MAX_ENTRIES / 2, "eviction keeps most of them");
  const texts = left.map((f) => readFileSync(join(dir, f), "utf8"));
  t.ok(
    texts.some((x) => x.includes(`"net-${total - 1}"`)),
    "the newest is there",
  );
  t.notOk(
    texts.some((x) => x.includes('"net-0"')),
    "the oldest is gone",
  );
  const bytes = left.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  t.ok(bytes <= MEMO_MAX_ENTRIES * (MEMO_MAX_ENTRY_BYTES + 200), `bounded in bytes: ${bytes}`);
});

t.test("a large input is validated and never remembered", async (t) => {
  const dir = tempDir(t);
  const big = netconf("m", { delegates: [{ name: "b", type: "bridge", pad: "x".repeat(MEMO_MAX_ENTRY_BYTES) }] });
  t.same(assertValid(big, { memoDir: dir }), []);
  t.same(entries(dir), []);
  t.throws(() => assertValid({ ...big, netconf: { ...big.netconf, delegates: [{ type: "../x" }] } }, { memoDir: dir }), { code: 7 });
});

t.test("warnings are remembered with the input and returned on every call", async (t) => {
  const dir = tempDir(t);
  const input = netconf("m", { colour: "blue" });
  const warning = { path: "colour", message: "is not a field this plugin knows; it is ignored" };
  t.same(assertValid(input, { memoDir: dir }), [warning]);
  const [file] = entries(dir);
  // The next call reads the entry, not the validator: an entry saying otherwise is believed.
  writeFileSync(join(dir, file), readFileSync(join(dir, file), "utf8").replace("is not a field", "was remembered as not a field"));
  t.same(assertValid(input, { memoDir: dir }), [{ ...warning, message: "was remembered as not a field this plugin knows; it is ignored" }]);
});

t.test("an entry that is a FIFO, or holds other text, is ignored and replaced", async (t) => {
  const dir = tempDir(t);
  const input = netconf("m");
  assertValid(input, { memoDir: dir });
  const [file] = entries(dir);
  const path = join(dir, file);
  const original = readFileSync(path, "utf8");
  rmSync(path);
  execFileSync("mkfifo", [path]);
  assertValid(input, { memoDir: dir }); // a blocking open would hang here
  t.equal(readFileSync(path, "utf8"), original, "validated again and rewritten");
  writeFileSync(path, original.replace('"name":"m"', '"name":"n"'));
  assertValid(input, { memoDir: dir });
  t.equal(readFileSync(path, "utf8"), original, "a different text does not count");
});
