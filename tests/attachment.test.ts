// Interface naming rules of legacy delegates mode, as a table.
import t from "tap";
import { planAttachments, requestFromConfig } from "../lib/attachment.ts";
import { loadDelegate } from "../lib/delegate.ts";

const d = (name: string, extra: Record<string, unknown> = {}) =>
  loadDelegate({ type: "bridge", name, ...extra }, name, 0, { name: "m", cniVersion: "1.0.0" });

const plan = (...ds: ReturnType<typeof d>[]) =>
  planAttachments(ds.map(requestFromConfig), "eth0").map((a) => `${a.network}:${a.ifName}${a.isClusterNetwork ? "*" : ""}`);

t.test("modern rule: first is the cluster network, then net<index>", async (t) => {
  t.same(plan(d("a"), d("b"), d("c")), ["a:eth0*", "b:net1", "c:net2"]);
});

t.test("requested names override, generated names keep the index", async (t) => {
  t.same(plan(d("a"), d("b", { ifnameRequest: "data" }), d("c")), ["a:eth0*", "b:data", "c:net2"]);
});

t.test("masterplugin: master first on CNI_IFNAME, others net0.. counting non-masters", async (t) => {
  t.same(plan(d("sriov"), d("ptp"), d("flannel", { masterplugin: true })), ["flannel:eth0*", "sriov:net0", "ptp:net1"]);
  t.same(plan(d("a"), d("m", { masterplugin: true }), d("b")), ["m:eth0*", "a:net0", "b:net1"]);
});

t.test("conflicts and bad names fail before anything runs", async (t) => {
  t.throws(() => plan(d("a", { masterplugin: true }), d("b", { masterplugin: true })), { code: 7, message: /found 2/ });
  t.throws(() => plan(d("a"), d("b", { ifnameRequest: "net2" }), d("c")), {
    code: 7,
    message: /"net2" is used by both network "b" and network "c"/,
  });
  t.throws(() => plan(d("a"), d("b", { ifnameRequest: "a-name-longer-than-15" })), { code: 7, message: /longer than 15 bytes/ });
  t.throws(() => plan(d("a"), d("b", { ifnameRequest: "x/y" })), { code: 7 });
  t.throws(() => planAttachments([], "eth0"), { code: 7 });
});
