// One delegate for one attachment, run the way a runtime runs a network
// config: a conflist's plugins in list order for ADD, each given the result
// so far as prevResult, and in reverse order for DEL (every plugin tried,
// even after one fails).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { loadDelegate } from "../lib/delegate.ts";
import { addDelegate, delDelegate } from "../lib/delegate-exec.ts";
import { fakeBin, recorder } from "./helpers/fake-plugins.ts";
import { tempDir } from "./helpers/netns.ts";

function world(t: Parameters<typeof tempDir>[0], plugins: Record<string, string>) {
  const dir = tempDir(t);
  const path = fakeBin(t, plugins).split(":");
  const env = { containerId: "c1", netns: "/run/netns/x", ifName: "net1", args: "", path };
  return { dir, env };
}

const conflist = (types: string[]) =>
  loadDelegate({ cniVersion: "1.0.0", name: "chain", plugins: types.map((type) => ({ type })) }, "delegates[0]", 0, {
    name: "multus",
    cniVersion: "1.0.0",
  });

t.test("ADD of a conflist: each later plugin gets the result so far as prevResult, and the last result is returned", async (t) => {
  const dir = tempDir(t);
  const first = { cniVersion: "1.0.0", ips: [{ address: "10.9.0.2/24" }] };
  const second = { ...first, dns: { nameservers: ["10.9.0.1"] } };
  const w = world(t, {
    first: `cat > ${dir}/first.stdin; echo '${JSON.stringify(first)}'`,
    second: `cat > ${dir}/second.stdin; echo '${JSON.stringify(second)}'`,
    third: `cat > ${dir}/third.stdin; echo '${JSON.stringify(second)}'`,
  });
  const result = await addDelegate(conflist(["first", "second", "third"]), { env: w.env, timeoutMs: 10_000 });
  const stdin = (p: string) => JSON.parse(readFileSync(join(dir, `${p}.stdin`), "utf8"));
  t.notOk("prevResult" in stdin("first"), "the first plugin has no prevResult");
  t.same(stdin("second").prevResult, first, "the second gets the first's result");
  t.same(stdin("third").prevResult, second, "the third gets the second's");
  t.same(result, second);
});

t.test("DEL of a conflist runs its plugins in reverse order, every one even when one fails", async (t) => {
  const dir = tempDir(t);
  const calls = join(dir, "calls");
  const w = world(t, {
    p1: recorder(calls).replace("$CNI_COMMAND", "p1 $CNI_COMMAND"),
    p2: `echo "p2 $CNI_COMMAND" >> ${calls}; echo '{"code":11,"msg":"busy"}'; exit 1`,
    p3: recorder(calls).replace("$CNI_COMMAND", "p3 $CNI_COMMAND"),
  });
  await t.rejects(delDelegate(conflist(["p1", "p2", "p3"]), { env: w.env, timeoutMs: 10_000 }), {
    code: 100,
    message: /DEL of network "chain" on net1: plugin "p2" failed: busy/,
  });
  t.same(readFileSync(calls, "utf8").trim().split("\n"), ["p3 DEL net1", "p2 DEL", "p1 DEL net1"]);
});
