// The WebAssembly validator through its TypeScript API, rule by rule, and
// through the built plugin (the bytes embedded in the single file).
import t from "tap";
import { assertValid, validateInput } from "../lib/validate.ts";
import { links, makeNetns } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";

const nc = (delegates: unknown[], extra: Record<string, unknown> = {}) => ({
  netconf: { cniVersion: "1.0.0", name: "m", type: "multus", delegates, ...extra },
});
const hl = (ipam: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  name: "n",
  type: "bridge",
  ipam: { type: "host-local", ...ipam },
  ...extra,
});

const rules: [string, Record<string, unknown>, string][] = [
  ["field types", { netconf: { name: "m", delegates: [{ type: "b" }], cniDir: 3 } }, "cniDir: must be a string"],
  ["log level", nc([{ type: "b" }], { logLevel: "loud" }), 'logLevel: "loud" is not a log level'],
  ["positive timeouts", nc([{ type: "b" }], { delegateTimeout: -1 }), "delegateTimeout: must be a positive number"],
  ["known cniVersion of a delegate", nc([{ type: "b", cniVersion: "0.9.0" }]), 'delegates[0].cniVersion: "0.9.0" is not a supported CNI version'],
  ["delegates without kubeconfig", { netconf: { name: "m" } }, "delegates: must list at least one network"],
  ["one masterplugin", nc([{ type: "a", masterplugin: true }, { type: "b", masterplugin: true }]), 'delegates[1]: only one delegate can have "masterplugin": true (also delegates[0])'],
  ["always_use_default needs delegates", { netconf: { name: "m", kubeconfig: "/k", always_use_default: true } }, "always_use_default: needs delegates"],
  ["bare type", nc([{ type: "../../sbin/reboot" }]), 'delegates[0].type: "../../sbin/reboot" is a path'],
  ["bare ipam type", nc([hl({ type: "/bin/x" })]), 'delegates[0].ipam.type: "/bin/x" is a path'],
  ["attachment name", { attachments: [{ path: "ns/a", config: { type: "b" } }] }, "ns/a.name: is required"],
  ["interface length", { attachments: [{ path: "ns/a", ifname: "abcdefghijklmnop", config: { name: "a", type: "b" } }] }, 'ns/a.interface: "abcdefghijklmnop" is longer than 15 bytes'],
  ["interface unique", { attachments: [{ path: "ns/a", ifname: "x", config: { name: "a", type: "b" } }, { path: "ns/b", ifname: "x", config: { name: "b", type: "b" } }] }, 'ns/b.interface: interface name "x" is also used by ns/a.interface'],
  ["subnet CIDR", nc([hl({ subnet: "10.1.0.0/33" })]), "delegates[0].ipam.subnet: 10.1.0.0/33 is not a valid CIDR"],
  ["rangeStart inside", nc([hl({ subnet: "10.1.0.0/24", rangeStart: "10.9.0.5" })]), "delegates[0].ipam.rangeStart: 10.9.0.5 is outside subnet 10.1.0.0/24"],
  ["rangeStart <= rangeEnd", nc([hl({ subnet: "10.1.0.0/24", rangeStart: "10.1.0.9", rangeEnd: "10.1.0.8" })]), "delegates[0].ipam.rangeStart: 10.1.0.9 is after rangeEnd 10.1.0.8"],
  ["gateway not network", nc([hl({ subnet: "10.1.0.0/24", gateway: "10.1.0.0" })]), "delegates[0].ipam.gateway: 10.1.0.0 is the network address of 10.1.0.0/24"],
  ["gateway not broadcast", nc([hl({ subnet: "10.1.0.0/24", gateway: "10.1.0.255" })]), "delegates[0].ipam.gateway: 10.1.0.255 is the broadcast address of 10.1.0.0/24"],
  ["v6 range", nc([hl({ subnet: "fd00::/64", rangeEnd: "fd01::1" })]), "delegates[0].ipam.rangeEnd: fd01::1 is outside subnet fd00::/64"],
  ["range sets", nc([hl({ ranges: [[{ subnet: "10.2.0.0/24", rangeEnd: "10.3.0.1" }]] })]), "delegates[0].ipam.ranges[0][0].rangeEnd: 10.3.0.1 is outside subnet 10.2.0.0/24"],
  ["route dst", nc([hl({ subnet: "10.1.0.0/24", routes: [{ dst: "default" }] })]), "delegates[0].ipam.routes[0].dst: default is not a valid CIDR"],
  ["route gw", nc([hl({ subnet: "10.1.0.0/24", routes: [{ dst: "0.0.0.0/0", gw: "10.1.0" }] })]), "delegates[0].ipam.routes[0].gw: 10.1.0 is not a valid IP address"],
  ["static address", nc([{ name: "s", type: "macvlan", ipam: { type: "static", addresses: [{ address: "10.5.0.300/24" }] } }]), "delegates[0].ipam.addresses[0].address: 10.5.0.300/24 is not a valid CIDR"],
  ["whereabouts range", nc([{ name: "w", type: "macvlan", ipam: { type: "whereabouts", range: "10.6.0.0/24", range_start: "10.7.0.1" } }]), "delegates[0].ipam.range_start: 10.7.0.1 is outside subnet 10.6.0.0/24"],
  ["overlapping subnets", nc([hl({ subnet: "10.1.0.0/16" }, { name: "a" }), hl({ subnet: "10.1.2.0/24" }, { name: "b" })]), 'delegates[1].ipam.subnet: 10.1.2.0/24 overlaps 10.1.0.0/16 at delegates[0].ipam.subnet (network "a")'],
];

for (const [rule, input, message] of rules) {
  t.test(`rule: ${rule}`, async (t) => {
    const a = validateInput(input);
    t.equal(a.type, "invalid");
    if (a.type !== "invalid") return;
    t.ok(a.errors.some((e) => `${e.path}: ${e.message}`.startsWith(message)), `${message}\n in ${JSON.stringify(a.errors)}`);
  });
}

t.test("a good config is valid; unknown fields are warnings", async (t) => {
  const a = validateInput(nc([hl({ subnet: "10.1.0.0/24", rangeStart: "10.1.0.10", gateway: "10.1.0.1" }), { name: "p", type: "ptp" }], { colour: "blue" }));
  t.match(a, { type: "valid", warnings: [{ path: "colour" }] });
  t.doesNotThrow(() => assertValid(nc([{ name: "b", type: "bridge" }])));
});

t.test("assertValid: code 7, the first problem in msg, all in details", async (t) => {
  t.throws(() => assertValid(nc([{ type: "../x", cniVersion: "7" }])), {
    code: 7,
    message: 'delegates[0].cniVersion: "7" is not a supported CNI version (0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)',
    details: /\ndelegates\[0\]\.type: "\.\.\/x" is a path/,
  });
});

t.test("through the built plugin: an invalid IPAM block fails the ADD before anything is attached", async (t) => {
  const ns = makeNetns(t);
  const conf = {
    cniVersion: "1.0.0",
    name: "m",
    type: "multus",
    cniDir: "/tmp/multus-validate-test-unused",
    delegates: [{ name: "b", type: "bridge", bridge: "mtvalid0", ipam: { type: "host-local", subnet: "10.250.0.0/24", gateway: "10.250.0.255" } }],
  };
  for (const command of ["ADD", "CHECK"]) {
    const r = await runPlugin({ command, containerId: "val-1", netns: ns.path, stdin: conf });
    t.equal(r.json!.code, 7, command);
    t.equal(r.json!.msg, "delegates[0].ipam.gateway: 10.250.0.255 is the broadcast address of 10.250.0.0/24");
  }
  t.same(links(ns.name), []);
  // DEL is not blocked by config problems.
  const d = await runPlugin({ command: "DEL", containerId: "val-1", netns: ns.path, stdin: conf });
  t.equal(d.code, 0, d.stdout);
});

t.test("every rule above, through the built file (`multus validate` on the same inputs)", async (t) => {
  const { writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tempDir } = await import("./helpers/netns.ts");
  const dir = tempDir(t);
  // Netconf rules as netconf files; attachment rules as a single conf file each.
  // (Interface names come from the pod, not from a file: those rules are checked above only.)
  const cases = rules.filter(([, input]) => "netconf" in input || (input.attachments as { ifname?: string }[]).every((a, _, l) => l.length === 1 && !a.ifname));
  const files = cases.map(([rule, input], i) => {
    const f = join(dir, `rule-${i}.conf`);
    const content = "netconf" in input ? { type: "multus", ...(input.netconf as object) } : (input.attachments as { config: unknown }[])[0].config;
    writeFileSync(f, JSON.stringify(content));
    return { rule, f };
  });
  const r = await runPlugin({ argv: ["validate", ...files.map((x) => x.f)], stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
  t.equal(r.code, 1);
  for (const [i, { rule, f }] of files.entries()) {
    const message = cases[i][2].replace(/^ns\/a\./, "");
    t.ok(r.stdout.split("\n").some((l) => l.startsWith(`${f}: `) && l.includes(message.slice(message.indexOf(":") + 2))), `${rule}: ${message}`);
  }
});
