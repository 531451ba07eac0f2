// The one attachment value and its sources: planned (ADD), recorded (a
// record of any version, or upstream's) and fallback (DEL without a record).
// In-process, without a runtime: what each source says for a given netconf.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { type Attachment, delegateOf, planAttachments, requestFromConfig } from "../lib/attachment.ts";
import { CACHE_VERSION, readCache, writeCache } from "../lib/cache.ts";
import { readCniArgs } from "../lib/cni/args.ts";
import { fallback, planned, recorded } from "../lib/commands/attachments.ts";
import type { CommandContext } from "../lib/commands/context.ts";
import { newRecord } from "../lib/commands/transaction.ts";
import { loadDelegate } from "../lib/delegate.ts";
import { NO_LOG } from "../lib/log.ts";
import { loadNetconf } from "../lib/netconf.ts";
import { tempDir } from "./helpers/netns.ts";
import { ROOT } from "./helpers/run-plugin.ts";

const POD_ARGS = "K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web";

function context(raw: Record<string, unknown>, env: Record<string, string> = {}): CommandContext {
  const args = readCniArgs(
    { CNI_CONTAINERID: "c1", CNI_NETNS: "/run/netns/x", CNI_IFNAME: "eth0", CNI_ARGS: POD_ARGS, CNI_PATH: "/opt/cni/bin", ...env },
    "ADD",
  );
  return { args, netconf: loadNetconf({ cniVersion: "1.0.0", name: "m", type: "multus", ...raw }), log: NO_LOG };
}

const conf = (name: string, extra: Record<string, unknown> = {}) => ({ cniVersion: "1.0.0", name, type: "bridge", ...extra });

t.test("planned (delegates mode): interfaces, CNI_ARGS and the runtime's capability args on the cluster network only", async (t) => {
  const ctx = context({
    delegates: [conf("a"), conf("b", { ifnameRequest: "data" }), conf("c")],
    runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80 }] },
  });
  const { attachments, pod } = await planned(ctx, undefined);
  t.equal(pod, undefined);
  t.same(
    attachments.map((a) => [a.network, a.ifName, a.isClusterNetwork, a.cniArgs, a.runtimeConfig ?? null]),
    [
      ["a", "eth0", true, `IgnoreUnknown=1;${POD_ARGS}`, { portMappings: [{ hostPort: 8080, containerPort: 80 }] }],
      ["b", "data", false, `IgnoreUnknown=1;${POD_ARGS}`, null],
      ["c", "net2", false, `IgnoreUnknown=1;${POD_ARGS}`, null],
    ],
  );
  t.same(JSON.parse(JSON.stringify(attachments)), attachments, "a plain JSON value: what the record stores is what was planned");
});

t.test("planning: the master plugin first; a request's own CNI_ARGS pairs replace the runtime's", async (t) => {
  const d = (name: string, extra = {}) => loadDelegate(conf(name, extra), name, 0, { name: "m", cniVersion: "1.0.0" });
  const args = context({ delegates: [conf("x")] }).args;
  const plan = planAttachments(
    [
      { delegate: d("a"), extraArgs: [["IP", "10.1.0.5/24"]], defaultRoute: ["10.1.0.1"], statusName: "ns1/a" },
      { ...requestFromConfig(d("m", { masterplugin: true })) },
    ],
    "eth0",
    args,
  );
  t.same(
    plan.map((a) => [a.network, a.ifName, a.isClusterNetwork]),
    [
      ["m", "eth0", true],
      ["a", "net0", false],
    ],
  );
  t.match(plan[1], { cniArgs: `IgnoreUnknown=1;${POD_ARGS};IP=10.1.0.5/24`, defaultRoute: ["10.1.0.1"], statusName: "ns1/a" });
  t.same(planAttachments([{ delegate: d("a") }], "eth0")[0].cniArgs, "", "without the runtime's arguments (validate): none");
});

t.test("delegateOf: the config as recorded is what runs; a Multus in it is read for DEL only", async (t) => {
  const a: Attachment = { network: "n", ifName: "net1", isClusterNetwork: false, config: { name: "n", type: "ptp" }, cniArgs: "" };
  t.match(delegateOf(a, "0.4.0"), { name: "n", kind: "conf", cniVersion: "0.4.0", pluginTypes: ["ptp"] });
  const nested = { ...a, config: { name: "n", plugins: [{ type: "multus" }, { type: "ptp" }] } };
  t.throws(() => delegateOf(nested, "1.0.0"), {
    code: 7,
    message: /recorded attachment "n" \(net1\)\.plugins\[0\]\.type: "multus" is a Multus/,
  });
  t.same(delegateOf(nested, "1.0.0", { allowMultus: true }).pluginTypes, ["multus", "ptp"]);
});

t.test("recorded: a record of format 1 reads as this release's value (each attachment its cniArgs)", async (t) => {
  const dir = tempDir(t);
  const fixture = readFileSync(join(ROOT, "tests", "fixtures", "record-v0.1.0", "reccontainer1"), "utf8");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(dir, "reccontainer1"), fixture);
  const r = readCache(dir, "reccontainer1");
  if (r.state !== "ok") throw new Error(JSON.stringify(r));
  const rec = r.record;
  t.equal(rec.version, CACHE_VERSION);
  t.same(
    recorded(rec).map((a) => [a.network, a.ifName, a.cniArgs === rec.cniArgs || a.cniArgs.endsWith("MAC=02:00:00:00:72:50")]),
    [
      ["br-net", "eth0", true],
      ["data", "data0", true],
      ["side", "net2", true],
    ],
    "0.1.0 left the cluster network's cniArgs out: it had the record's",
  );
  t.equal(recorded(rec)[0].cniArgs, rec.cniArgs);
  writeCache(dir, rec);
  const again = JSON.parse(readFileSync(join(dir, "reccontainer1"), "utf8"));
  t.equal(again.version, CACHE_VERSION, "written back in this release's format");
  t.equal(again.attachments[0].cniArgs, rec.cniArgs);
});

t.test("recorded: a newer version's added fields are kept when the record is written again", async (t) => {
  const dir = tempDir(t);
  const ctx = context({ cniDir: dir, delegates: [conf("a")] });
  const rec = { ...newRecord(ctx, (await planned(ctx, undefined)).attachments), version: 9, futureField: { x: 1 } };
  rec.attachments[0] = { ...rec.attachments[0], ...{ futureAttachmentField: true } };
  writeCache(dir, rec);
  const r = readCache(dir, "c1");
  if (r.state !== "ok") throw new Error(JSON.stringify(r));
  t.equal(r.record.version, 9);
  writeCache(dir, r.record);
  t.match(JSON.parse(readFileSync(join(dir, "c1"), "utf8")), {
    version: 9,
    futureField: { x: 1 },
    attachments: [{ futureAttachmentField: true }],
  });
  writeCache(dir, { ...rec, version: "two" as unknown as number });
  t.match(readCache(dir, "c1"), { state: "corrupt", problem: /malformed version "two"/ });
});

t.test("newRecord: what the runtime's call gave, the runtime's CNI_PATH included, before anything runs", async (t) => {
  const ctx = context({ delegates: [conf("a")] }, { CNI_PATH: "/opt/cni/bin:/usr/lib/cni" });
  const rec = newRecord(ctx, []);
  t.match(rec, {
    version: CACHE_VERSION,
    containerId: "c1",
    netns: "/run/netns/x",
    ifName: "eth0",
    cniArgs: POD_ARGS,
    cniPath: ["/opt/cni/bin", "/usr/lib/cni"],
    complete: false,
    attachments: [],
  });
});

t.test("fallback: delegates mode DELs what the config names, planned as ADD would", async (t) => {
  const ctx = context({ delegates: [conf("a"), conf("b")], runtimeConfig: { bandwidth: { ingressRate: 1 } } });
  const atts = await fallback(ctx);
  t.same(
    atts.map((a) => [a.network, a.ifName, !!a.runtimeConfig]),
    [
      ["a", "eth0", true],
      ["b", "net1", false],
    ],
  );
  t.same(
    await fallback(context({ kubeconfig: "/nonexistent/kubeconfig" })),
    [],
    "Kubernetes mode without delegates, the API unreachable: nothing",
  );
});

t.test("one value and one runner: only delegate-exec runs a plugin, and the old shapes and the config round trip are gone", async (t) => {
  const { readdirSync } = await import("node:fs");
  const files = readdirSync(join(ROOT, "lib"), { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => `lib/${f}`);
  const source = new Map([...files, "main.ts"].map((f) => [f, readFileSync(join(ROOT, f), "utf8")]));
  const using = (re: RegExp) =>
    [...source]
      .filter(([, text]) => re.test(text))
      .map(([f]) => f)
      .sort();
  t.same(
    using(/\binvokePlugin\b/),
    ["lib/delegate-exec.ts", "lib/plugin-exec.ts"],
    "every verb, GC and STATUS included, runs plugins through delegate-exec",
  );
  t.same(using(/\b(PlannedAttachment|CachedAttachment|DelTarget)\b/), [], "no second or third shape of an attachment");
  t.notMatch(source.get("lib/k8s/resolve.ts") ?? "", /JSON\.(parse|stringify)/, "a NAD's config is resolved as a value, not re-encoded");
});
