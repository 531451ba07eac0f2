// CHECK asks every attached delegate to verify its interface, with the cached prevResult.
import t from "tap";
import { makeNetns, sh } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

t.test("CHECK passes after ADD and fails, naming the network, once an interface is removed by hand", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const call = { containerId: "chk1", netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp()]) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  const ok = await runPlugin({ ...call, command: "CHECK" });
  t.equal(ok.code, 0, ok.stdout);
  t.equal(ok.stdout, "");
  sh("ip", ["-n", ns.name, "link", "del", "net1"]);
  const bad = await runPlugin({ ...call, command: "CHECK" });
  t.equal(bad.code, 1);
  t.match(bad.json!.msg, /network "ptp-net" on net1 failed CHECK: plugin "ptp" failed/);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("CHECK with a config older than 0.4.0 is refused with code 1", async (t) => {
  const s = scenario(t, "0.3.1");
  const ns = makeNetns(t);
  const r = await runPlugin({ command: "CHECK", containerId: "chk2", netns: ns.path, stdin: s.netconf([s.bridge()]) });
  t.equal(r.json!.code, 1);
  t.equal(r.json!.msg, "config version does not allow CHECK");
});

t.test("CHECK of a container that was never added says so", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const r = await runPlugin({ command: "CHECK", containerId: "chk3", netns: ns.path, stdin: s.netconf([s.bridge()]) });
  t.equal(r.json!.code, 101);
  t.match(r.json!.msg, /no attachments are recorded for container chk3/);
});
