// Config sources in Kubernetes mode: legacy Network objects, conf files.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { readCniArgs, withExtraArgs } from "../lib/cni/args.ts";
import { findConfByName, legacyNetworkToConf, loadConfPath } from "../lib/k8s/networks.ts";
import { tempDir } from "./helpers/netns.ts";

t.test("a legacy Network becomes {type: plugin, name, ...args[0]} by parsing, not splicing", async (t) => {
  const obj = { plugin: "flannel", args: '[ { "delegate": { "isDefaultGateway": true } } ]\n' };
  t.same(legacyNetworkToConf(obj, "Network default/flannel-conf", "flannel-conf"), {
    delegate: { isDefaultGateway: true },
    type: "flannel",
    name: "flannel-conf",
  });
  t.same(legacyNetworkToConf({ plugin: "ptp" }, "n", "p"), { type: "ptp", name: "p" });
  t.throws(() => legacyNetworkToConf({ args: "[]" }, "Network default/x", "x"), {
    code: 7,
    message: /Network default\/x: "plugin" must name/,
  });
  t.throws(() => legacyNetworkToConf({ plugin: "p", args: "{oops" }, "Network default/x", "x"), {
    code: 7,
    message: /"args" is not valid JSON/,
  });
  t.throws(() => legacyNetworkToConf({ plugin: "p", args: '"x"' }, "Network default/x", "x"), { code: 7, message: /must be a JSON list/ });
});

t.test("conf files: by CNI name in lexical order, or a path / directory", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "20-b.conf"), JSON.stringify({ name: "net-b", type: "ptp" }));
  writeFileSync(join(dir, "10-a.conflist"), JSON.stringify({ name: "net-a", plugins: [{ type: "bridge" }] }));
  writeFileSync(join(dir, "05-broken.conf"), "{");
  writeFileSync(join(dir, "README"), "not a conf");
  t.same(findConfByName(dir, "net-b"), { name: "net-b", type: "ptp" });
  t.equal(findConfByName(dir, "nope"), undefined);
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "sub", "99-z.json"), JSON.stringify({ name: "z", type: "macvlan" }));
  t.same(loadConfPath(join(dir, "sub")), { name: "z", type: "macvlan" });
  t.same(loadConfPath(join(dir, "20-b.conf")), { name: "net-b", type: "ptp" });
  t.throws(() => loadConfPath(join(dir, "missing")), { code: 7 });
});

t.test("per-attachment CNI_ARGS: runtime's pairs kept, IgnoreUnknown ensured, own pairs win", async (t) => {
  const args = (CNI_ARGS: string) => readCniArgs({ CNI_ARGS }, "VERSION");
  t.equal(withExtraArgs(args("K8S_POD_NAME=p"), undefined), "IgnoreUnknown=1;K8S_POD_NAME=p");
  t.equal(withExtraArgs(args(""), undefined), "IgnoreUnknown=1");
  t.equal(withExtraArgs(args("K8S_POD_NAME=p;IgnoreUnknown=true"), undefined), "K8S_POD_NAME=p;IgnoreUnknown=true", "kept as received");
  t.equal(
    withExtraArgs(args("K8S_POD_NAME=p;IP=1.1.1.1"), [
      ["IP", "10.1.0.5/24"],
      ["MAC", "aa:bb:cc:dd:ee:ff"],
    ]),
    "IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.1.0.5/24;MAC=aa:bb:cc:dd:ee:ff",
  );
  t.same(
    args("IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_UID=u1").pod,
    { namespace: "ns", name: "p", uid: "u1" },
    "the pod, from the one parse",
  );
});
