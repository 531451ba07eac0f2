// The WebAssembly validator through its TypeScript API, rule by rule (one
// input that passes and one that fails with its exact path and message), and
// through the built plugin (the bytes embedded in the single file).
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { ifNameProblem } from "../lib/cni/args.ts";
import { isMultusPluginType, MULTUS_PLUGIN_TYPES } from "../lib/delegate.ts";
import type { JsonObject } from "../lib/json.ts";
import { assertValid, type ValidatorInput, validateInput } from "../lib/validate.ts";
import { wasmBytes } from "../lib/wasm-bytes.ts";
import { instantiate } from "../wasm/pkg/multus_validator.js";
import { logEntries } from "./helpers/log-lines.ts";
import { cleanupLink, links, makeNetns, reservations, tempDir, uniqueName } from "./helpers/netns.ts";
import { CNI_BIN, ROOT, runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

const VERSIONS = "(0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)";
const bridge = { name: "b", type: "bridge" };

/** A netconf with these delegates and extra fields. */
const nc = (delegates: unknown[], extra: JsonObject = {}): ValidatorInput => ({
  netconf: { cniVersion: "1.0.0", name: "m", type: "multus", delegates, ...extra },
});
/** A netconf of one delegate with this IPAM block. */
const ipam = (block: JsonObject): ValidatorInput => nc([{ name: "n", type: "bridge", ipam: block }]);
const hl = (block: JsonObject) => ipam({ type: "host-local", ...block });
/** One attachment per config, named ns/<config name>. */
const att = (...configs: (JsonObject & { ifname?: string })[]): ValidatorInput => ({
  attachments: configs.map(({ ifname, ...config }) => ({
    path: `ns/${String(config.name ?? "x")}`,
    ...(ifname === undefined ? {} : { ifname }),
    config,
  })),
});

interface Rule {
  rule: string;
  ok: ValidatorInput;
  bad: ValidatorInput;
  path: string;
  message: string;
}

const DURATION = "must be a number of seconds greater than 0 and at most 3600";

const rules: Rule[] = [
  // The netconf's own fields.
  { rule: "netconf name required", ok: nc([bridge]), bad: { netconf: { delegates: [bridge] } }, path: "name", message: "is required" },
  {
    rule: "netconf cniVersion known",
    ok: nc([bridge], { cniVersion: "1.1.0" }),
    bad: nc([bridge], { cniVersion: "0.9.9" }),
    path: "cniVersion",
    message: `"0.9.9" is not a supported CNI version ${VERSIONS}`,
  },
  {
    rule: "logLevel known",
    ok: nc([bridge], { logLevel: "verbose" }),
    bad: nc([bridge], { logLevel: "loud" }),
    path: "logLevel",
    message: '"loud" is not a log level (error, info, debug, verbose, panic)',
  },
  {
    rule: "capabilities of bools",
    ok: nc([bridge], { capabilities: { ips: true } }),
    bad: nc([bridge], { capabilities: { ips: "yes" } }),
    path: "capabilities",
    message: "must be an object of true/false values",
  },
  {
    rule: "delegates is a list",
    ok: nc([bridge]),
    bad: { netconf: { name: "m", delegates: { a: bridge } } },
    path: "delegates",
    message: "must be a list",
  },
  {
    rule: "delegates required without kubeconfig",
    ok: { netconf: { name: "m", kubeconfig: "/etc/k" } },
    bad: { netconf: { name: "m", delegates: [] } },
    path: "delegates",
    message: "must list at least one network when neither kubeconfig nor clusterNetwork is set",
  },
  {
    rule: "delegates not required with clusterNetwork",
    ok: { netconf: { name: "m", clusterNetwork: "flannel" } },
    bad: { netconf: { name: "m", clusterNetwork: "" } },
    path: "delegates",
    message: "must list at least one network when neither kubeconfig nor clusterNetwork is set",
  },
  {
    rule: "one masterplugin",
    ok: nc([
      { ...bridge, masterplugin: true },
      { name: "p", type: "ptp", masterplugin: false },
    ]),
    bad: nc([
      { ...bridge, masterplugin: true },
      { name: "p", type: "ptp", masterplugin: true },
    ]),
    path: "delegates[1]",
    message: 'only one delegate can have "masterplugin": true (also delegates[0])',
  },
  {
    rule: "masterplugin is a bool",
    ok: nc([{ ...bridge, masterplugin: false }]),
    bad: nc([{ ...bridge, masterplugin: "yes" }]),
    path: "delegates[0].masterplugin",
    message: "must be true or false",
  },
  {
    rule: "always_use_default needs delegates",
    ok: nc([bridge], { always_use_default: true }),
    bad: { netconf: { name: "m", kubeconfig: "/k", always_use_default: true } },
    path: "always_use_default",
    message: "needs delegates: they are the networks always attached first",
  },
  {
    rule: "delegates are objects",
    ok: nc([bridge]),
    bad: nc([bridge, "ptp"]),
    path: "delegates[1]",
    message: "must be a JSON object (a CNI conf or conflist)",
  },
  // Delegate configs (netconf delegates and attachments alike).
  {
    rule: "type is a bare name, not a path",
    ok: nc([{ type: "my_plugin-1.2" }]),
    bad: nc([{ type: "../../sbin/reboot" }]),
    path: "delegates[0].type",
    message: '"../../sbin/reboot" is a path; it must be a bare plugin name such as "bridge"',
  },
  {
    rule: "type is not absolute",
    ok: nc([bridge]),
    bad: nc([{ type: "/opt/cni/bin/bridge" }]),
    path: "delegates[0].type",
    message: '"/opt/cni/bin/bridge" is a path; it must be a bare plugin name such as "bridge"',
  },
  {
    rule: "type has no backslash",
    ok: nc([bridge]),
    bad: nc([{ type: "a\\b" }]),
    path: "delegates[0].type",
    message: '"a\\b" is a path; it must be a bare plugin name such as "bridge"',
  },
  {
    rule: "type is not ..",
    ok: nc([{ type: "a.b" }]),
    bad: nc([{ type: ".." }]),
    path: "delegates[0].type",
    message: '".." is a path; it must be a bare plugin name such as "bridge"',
  },
  {
    rule: "type is not .",
    ok: nc([{ type: "a." }]),
    bad: nc([{ type: "." }]),
    path: "delegates[0].type",
    message: `"." is not a valid plugin name (letters, digits, '.', '_', '-')`,
  },
  {
    rule: "type characters",
    ok: nc([{ type: "Macvlan2" }]),
    bad: nc([{ type: "mac vlan" }]),
    path: "delegates[0].type",
    message: `"mac vlan" is not a valid plugin name (letters, digits, '.', '_', '-')`,
  },
  { rule: "type or plugins required", ok: nc([bridge]), bad: nc([{ name: "x" }]), path: "delegates[0].type", message: "is required" },
  {
    rule: "conflist plugins non-empty",
    ok: nc([{ name: "l", plugins: [{ type: "ptp" }] }]),
    bad: nc([{ name: "l", plugins: [] }]),
    path: "delegates[0].plugins",
    message: "must be a non-empty list of plugin configs",
  },
  {
    rule: "conflist plugins are objects",
    ok: nc([{ name: "l", plugins: [{ type: "ptp" }, { type: "tuning" }] }]),
    bad: nc([{ name: "l", plugins: [{ type: "ptp" }, "tuning"] }]),
    path: "delegates[0].plugins[1]",
    message: "must be an object",
  },
  {
    rule: "conflist plugin types bare",
    ok: nc([{ name: "l", plugins: [{ type: "ptp" }] }]),
    bad: nc([{ name: "l", plugins: [{ type: "ptp" }, { type: "../x" }] }]),
    path: "delegates[0].plugins[1].type",
    message: '"../x" is a path; it must be a bare plugin name such as "bridge"',
  },
  {
    rule: "attachment name required",
    ok: att({ name: "a", type: "bridge" }),
    bad: { attachments: [{ path: "ns/a", config: { type: "bridge" } }] },
    path: "ns/a.name",
    message: "is required",
  },
  {
    rule: "delegate cniVersion known",
    ok: nc([{ ...bridge, cniVersion: "0.3.1" }]),
    bad: nc([{ ...bridge, cniVersion: "0.9.0" }]),
    path: "delegates[0].cniVersion",
    message: `"0.9.0" is not a supported CNI version ${VERSIONS}`,
  },
  {
    rule: "attachment cniVersion known",
    ok: att({ name: "a", type: "b", cniVersion: "1.0.0" }),
    bad: att({ name: "a", type: "b", cniVersion: "2.0.0" }),
    path: "ns/a.cniVersion",
    message: `"2.0.0" is not a supported CNI version ${VERSIONS}`,
  },
  {
    rule: "ipam type bare",
    ok: hl({ subnet: "10.1.0.0/24" }),
    bad: ipam({ type: "/bin/x" }),
    path: "delegates[0].ipam.type",
    message: '"/bin/x" is a path; it must be a bare plugin name such as "bridge"',
  },
  // Interface names.
  {
    rule: "ifname not empty",
    ok: att({ name: "a", type: "b", ifname: "net1" }),
    bad: att({ name: "a", type: "b", ifname: "" }),
    path: "ns/a.interface",
    message: "is empty",
  },
  {
    rule: "ifname <= 15 bytes",
    ok: att({ name: "a", type: "b", ifname: "abcdefghijklmno" }),
    bad: att({ name: "a", type: "b", ifname: "abcdefghijklmnop" }),
    path: "ns/a.interface",
    message: '"abcdefghijklmnop" is longer than 15 bytes',
  },
  {
    rule: "ifname bytes, not characters",
    ok: att({ name: "a", type: "b", ifname: "ééééééé" }),
    bad: att({ name: "a", type: "b", ifname: "éééééééé" }),
    path: "ns/a.interface",
    message: '"éééééééé" is longer than 15 bytes',
  },
  {
    rule: "ifname no slash",
    ok: att({ name: "a", type: "b", ifname: "a-b" }),
    bad: att({ name: "a", type: "b", ifname: "a/b" }),
    path: "ns/a.interface",
    message: `"a/b" contains '/', ':' or whitespace`,
  },
  {
    rule: "ifname no whitespace",
    ok: att({ name: "a", type: "b", ifname: "a_b" }),
    bad: att({ name: "a", type: "b", ifname: "a\tb" }),
    path: "ns/a.interface",
    message: `"a\tb" contains '/', ':' or whitespace`,
  },
  {
    rule: "ifname no colon",
    ok: att({ name: "a", type: "b", ifname: "a.1" }),
    bad: att({ name: "a", type: "b", ifname: "a:1" }),
    path: "ns/a.interface",
    message: `"a:1" contains '/', ':' or whitespace`,
  },
  {
    rule: "ifname not .",
    ok: att({ name: "a", type: "b", ifname: ".a" }),
    bad: att({ name: "a", type: "b", ifname: "." }),
    path: "ns/a.interface",
    message: '"." is not a valid interface name',
  },
  {
    rule: "ifname not ..",
    ok: att({ name: "a", type: "b", ifname: "..." }),
    bad: att({ name: "a", type: "b", ifname: ".." }),
    path: "ns/a.interface",
    message: '".." is not a valid interface name',
  },
  {
    rule: "ifname unique across attachments",
    ok: att({ name: "a", type: "b", ifname: "net1" }, { name: "c", type: "b", ifname: "net2" }),
    bad: att({ name: "a", type: "b", ifname: "net1" }, { name: "c", type: "b", ifname: "net1" }),
    path: "ns/c.interface",
    message: 'interface name "net1" is also used by ns/a.interface',
  },
  {
    rule: "ifnameRequest valid",
    ok: nc([{ ...bridge, ifnameRequest: "net9" }]),
    bad: nc([{ ...bridge, ifnameRequest: "net 9" }]),
    path: "delegates[0].ifnameRequest",
    message: `"net 9" contains '/', ':' or whitespace`,
  },
  {
    rule: "ifnameRequest unique with attachments",
    ok: { ...nc([{ ...bridge, ifnameRequest: "net1" }]), ...att({ name: "a", type: "b", ifname: "net2" }) },
    bad: { ...nc([{ ...bridge, ifnameRequest: "net1" }]), ...att({ name: "a", type: "b", ifname: "net1" }) },
    path: "ns/a.interface",
    message: 'interface name "net1" is also used by delegates[0].ifnameRequest',
  },
  // host-local.
  {
    rule: "subnet is a v4 CIDR",
    ok: hl({ subnet: "10.1.0.0/24" }),
    bad: hl({ subnet: "10.1.0.0/33" }),
    path: "delegates[0].ipam.subnet",
    message: "10.1.0.0/33 is not a valid CIDR (address/prefix)",
  },
  {
    rule: "subnet is a v6 CIDR",
    ok: hl({ subnet: "fd00::/64" }),
    bad: hl({ subnet: "fd00::/129" }),
    path: "delegates[0].ipam.subnet",
    message: "fd00::/129 is not a valid CIDR (address/prefix)",
  },
  {
    rule: "subnet has a prefix",
    ok: hl({ subnet: "10.1.0.7/24" }),
    bad: hl({ subnet: "10.1.0.0" }),
    path: "delegates[0].ipam.subnet",
    message: "10.1.0.0 is not a valid CIDR (address/prefix)",
  },
  {
    rule: "rangeStart is an IP",
    ok: hl({ subnet: "10.1.0.0/24", rangeStart: "10.1.0.5" }),
    bad: hl({ subnet: "10.1.0.0/24", rangeStart: "10.1.0.256" }),
    path: "delegates[0].ipam.rangeStart",
    message: "10.1.0.256 is not a valid IP address",
  },
  {
    rule: "rangeStart inside subnet",
    ok: hl({ subnet: "10.1.0.0/24", rangeStart: "10.1.0.5" }),
    bad: hl({ subnet: "10.1.0.0/24", rangeStart: "10.9.0.5" }),
    path: "delegates[0].ipam.rangeStart",
    message: "10.9.0.5 is outside subnet 10.1.0.0/24",
  },
  {
    rule: "rangeEnd inside subnet (v6)",
    ok: hl({ subnet: "fd00::/64", rangeEnd: "fd00::ffff" }),
    bad: hl({ subnet: "fd00::/64", rangeEnd: "fd01::1" }),
    path: "delegates[0].ipam.rangeEnd",
    message: "fd01::1 is outside subnet fd00::/64",
  },
  {
    rule: "rangeStart same family as subnet",
    ok: hl({ subnet: "fd00::/64", rangeStart: "fd00::5" }),
    bad: hl({ subnet: "10.1.0.0/24", rangeStart: "fd00::5" }),
    path: "delegates[0].ipam.rangeStart",
    message: "fd00::5 is not the same IP family as subnet 10.1.0.0/24",
  },
  {
    rule: "rangeStart <= rangeEnd",
    ok: hl({ subnet: "10.1.0.0/24", rangeStart: "10.1.0.8", rangeEnd: "10.1.0.8" }),
    bad: hl({ subnet: "10.1.0.0/24", rangeStart: "10.1.0.9", rangeEnd: "10.1.0.8" }),
    path: "delegates[0].ipam.rangeStart",
    message: "10.1.0.9 is after rangeEnd 10.1.0.8",
  },
  {
    rule: "ranges are lists of lists",
    ok: hl({ ranges: [[{ subnet: "10.2.0.0/24" }], [{ subnet: "fd02::/64" }]] }),
    bad: hl({ ranges: [{ subnet: "10.2.0.0/24" }] }),
    path: "delegates[0].ipam.ranges[0]",
    message: "must be a non-empty list of range objects",
  },
  {
    rule: "ranges non-empty",
    ok: hl({ ranges: [[{ subnet: "10.2.0.0/24" }]] }),
    bad: hl({ ranges: [] }),
    path: "delegates[0].ipam.ranges",
    message: "must be a non-empty list of range sets (lists of range objects)",
  },
  {
    rule: "range objects",
    ok: hl({ ranges: [[{ subnet: "10.2.0.0/24" }]] }),
    bad: hl({ ranges: [["10.2.0.0/24"]] }),
    path: "delegates[0].ipam.ranges[0][0]",
    message: 'must be a range object {"subnet": CIDR, ...}',
  },
  {
    rule: "range needs a subnet",
    ok: hl({ ranges: [[{ subnet: "10.2.0.0/24", rangeStart: "10.2.0.9" }]] }),
    bad: hl({ ranges: [[{ rangeStart: "10.2.0.9" }]] }),
    path: "delegates[0].ipam.ranges[0][0].subnet",
    message: "is required",
  },
  {
    rule: "range rules as for subnet",
    ok: hl({ ranges: [[{ subnet: "10.2.0.0/24", rangeEnd: "10.2.0.200" }]] }),
    bad: hl({ ranges: [[{ subnet: "10.2.0.0/24", rangeEnd: "10.3.0.1" }]] }),
    path: "delegates[0].ipam.ranges[0][0].rangeEnd",
    message: "10.3.0.1 is outside subnet 10.2.0.0/24",
  },
  {
    rule: "route dst is a CIDR",
    ok: hl({ subnet: "10.1.0.0/24", routes: [{ dst: "0.0.0.0/0" }] }),
    bad: hl({ subnet: "10.1.0.0/24", routes: [{ dst: "default" }] }),
    path: "delegates[0].ipam.routes[0].dst",
    message: "default is not a valid CIDR (address/prefix)",
  },
  {
    rule: "route dst required",
    ok: hl({ subnet: "10.1.0.0/24", routes: [{ dst: "10.9.0.0/16", gw: "10.1.0.1" }] }),
    bad: hl({ subnet: "10.1.0.0/24", routes: [{ gw: "10.1.0.1" }] }),
    path: "delegates[0].ipam.routes[0].dst",
    message: "is required",
  },
  {
    rule: "route gw is an IP",
    ok: hl({ subnet: "10.1.0.0/24", routes: [{ dst: "::/0", gw: "fd00::1" }] }),
    bad: hl({ subnet: "10.1.0.0/24", routes: [{ dst: "0.0.0.0/0", gw: "10.1.0" }] }),
    path: "delegates[0].ipam.routes[0].gw",
    message: "10.1.0 is not a valid IP address",
  },
  // static.
  {
    rule: "static address is a CIDR",
    ok: ipam({ type: "static", addresses: [{ address: "10.5.0.2/24" }] }),
    bad: ipam({ type: "static", addresses: [{ address: "10.5.0.300/24" }] }),
    path: "delegates[0].ipam.addresses[0].address",
    message: "10.5.0.300/24 is not a valid CIDR (address/prefix)",
  },
  {
    rule: "static gateway is an IP",
    ok: ipam({ type: "static", addresses: [{ address: "fd05::2/64", gateway: "fd05::1" }] }),
    bad: ipam({ type: "static", addresses: [{ address: "10.5.0.2/24", gateway: "gw" }] }),
    path: "delegates[0].ipam.addresses[0].gateway",
    message: "gw is not a valid IP address",
  },
  // whereabouts.
  {
    rule: "whereabouts range is a CIDR",
    ok: ipam({ type: "whereabouts", range: "10.6.0.0/24" }),
    bad: ipam({ type: "whereabouts", range: "10.6.0.0-10.6.0.9" }),
    path: "delegates[0].ipam.range",
    message: "10.6.0.0-10.6.0.9 is not a valid CIDR (address/prefix), nor first address-CIDR",
  },
  {
    rule: "whereabouts exclude CIDRs",
    ok: ipam({ type: "whereabouts", range: "10.6.0.0/24", exclude: ["10.6.0.0/28"] }),
    bad: ipam({ type: "whereabouts", range: "10.6.0.0/24", exclude: ["10.6.0.0/28", "10.6.0.1"] }),
    path: "delegates[0].ipam.exclude[1]",
    message: "10.6.0.1 is not a valid CIDR (address/prefix)",
  },
  // host-local: what host-local itself refuses.
  {
    rule: "host-local needs a subnet or ranges",
    ok: hl({ ranges: [[{ subnet: "10.2.0.0/24" }]] }),
    bad: hl({ routes: [{ dst: "0.0.0.0/0" }] }),
    path: "delegates[0].ipam",
    message: 'host-local needs "subnet" or "ranges"',
  },
  {
    rule: "host-local ranges of one block do not overlap",
    ok: hl({
      ranges: [
        [
          { subnet: "10.2.0.0/24", rangeStart: "10.2.0.10", rangeEnd: "10.2.0.19" },
          { subnet: "10.2.0.0/24", rangeStart: "10.2.0.20", rangeEnd: "10.2.0.29" },
        ],
      ],
    }),
    bad: hl({ ranges: [[{ subnet: "10.2.0.0/24" }], [{ subnet: "10.2.0.0/25" }]] }),
    path: "delegates[0].ipam.ranges[1][0]",
    message: "10.2.0.1-10.2.0.126 overlaps 10.2.0.1-10.2.0.254 of ranges[0][0]: host-local refuses ranges that share addresses",
  },
  {
    rule: "the IPAM rules apply where a reference plugin hands the block to its IPAM plugin",
    ok: nc([{ name: "k8s-pod-network", type: "calico", ipam: { type: "host-local", subnet: "usePodCidr" } }]),
    bad: nc([{ name: "k8s-pod-network", type: "bridge", ipam: { type: "host-local", subnet: "usePodCidr" } }]),
    path: "delegates[0].ipam.subnet",
    message: "usePodCidr is not a valid CIDR (address/prefix)",
  },
  {
    rule: "whereabouts range as first address-CIDR",
    ok: ipam({ type: "whereabouts", range: "10.6.0.5-10.6.0.9/24" }),
    bad: ipam({ type: "whereabouts", range: "10.6.0.5-10.6.0.9" }),
    path: "delegates[0].ipam.range",
    message: "10.6.0.5-10.6.0.9 is not a valid CIDR (address/prefix), nor first address-CIDR",
  },
  {
    rule: "whereabouts range start of first address-CIDR inside",
    ok: ipam({ type: "whereabouts", ipRanges: [{ range: "fd06::5-fd06::9/64" }] }),
    bad: ipam({ type: "whereabouts", ipRanges: [{ range: "10.7.0.5-10.6.0.9/24" }] }),
    path: "delegates[0].ipam.ipRanges[0].range",
    message: "10.7.0.5 is outside subnet 10.6.0.0/24",
  },
  // Multus is never a delegate of Multus.
  {
    rule: "a delegate is not a Multus",
    ok: nc([bridge]),
    bad: nc([bridge, { name: "loop", type: "multus", kubeconfig: "/k" }]),
    path: "delegates[1].type",
    message: '"multus" is a Multus: a Multus cannot be a delegate (it would call itself)',
  },
  {
    rule: "a conflist plugin is not a Multus",
    ok: nc([{ name: "l", plugins: [{ type: "ptp" }, { type: "portmap" }] }]),
    bad: nc([{ name: "l", plugins: [{ type: "ptp" }, { type: "multus-shim" }] }]),
    path: "delegates[0].plugins[1].type",
    message: '"multus-shim" is a Multus: a Multus cannot be a delegate (it would call itself)',
  },
  {
    rule: "a NAD's config is not a Multus",
    ok: att({ name: "a", type: "macvlan" }),
    bad: att({ name: "a", type: "multus", delegates: [bridge] }),
    path: "ns/a.type",
    message: '"multus" is a Multus: a Multus cannot be a delegate (it would call itself)',
  },
  // Interface names Linux would take but a pod cannot have.
  {
    rule: "ifnameRequest not lo",
    ok: nc([{ ...bridge, ifnameRequest: "lo0" }]),
    bad: nc([{ ...bridge, ifnameRequest: "lo" }]),
    path: "delegates[0].ifnameRequest",
    message: '"lo" is the loopback interface every network namespace already has',
  },
  {
    rule: "ifnameRequest has no NUL byte",
    ok: nc([{ ...bridge, ifnameRequest: "net1" }]),
    bad: nc([{ ...bridge, ifnameRequest: "net\u00001" }]),
    path: "delegates[0].ifnameRequest",
    message: "contains a NUL byte",
  },
  {
    rule: "interface not lo",
    ok: att({ name: "a", type: "b", ifname: "lo1" }),
    bad: att({ name: "a", type: "b", ifname: "lo" }),
    path: "ns/a.interface",
    message: '"lo" is the loopback interface every network namespace already has',
  },
];

/** Questionable but accepted by the plugin that reads it: a warning, never an error. */
const warnings: Rule[] = [
  {
    rule: "gateway inside subnet",
    ok: hl({ subnet: "10.1.0.0/24", gateway: "10.1.0.1" }),
    bad: hl({ subnet: "10.1.0.0/24", gateway: "10.2.0.1" }),
    path: "delegates[0].ipam.gateway",
    message: "10.2.0.1 is outside subnet 10.1.0.0/24",
  },
  {
    rule: "gateway not the network address",
    ok: hl({ subnet: "10.1.0.0/24", gateway: "10.1.0.254" }),
    bad: hl({ subnet: "10.1.0.0/24", gateway: "10.1.0.0" }),
    path: "delegates[0].ipam.gateway",
    message: "10.1.0.0 is the network address of 10.1.0.0/24",
  },
  {
    rule: "gateway not the v6 network address",
    ok: hl({ subnet: "fd00::/64", gateway: "fd00::1" }),
    bad: hl({ subnet: "fd00::/64", gateway: "fd00::" }),
    path: "delegates[0].ipam.gateway",
    message: "fd00:: is the network address of fd00::/64",
  },
  {
    rule: "gateway not the v4 broadcast address",
    ok: hl({ subnet: "fd00::/120", gateway: "fd00::ff" }),
    bad: hl({ subnet: "10.1.0.0/24", gateway: "10.1.0.255" }),
    path: "delegates[0].ipam.gateway",
    message: "10.1.0.255 is the broadcast address of 10.1.0.0/24",
  },
  {
    rule: "gateway of the subnet's family",
    ok: hl({ subnet: "10.1.0.0/24", gateway: "10.1.0.1" }),
    bad: hl({ subnet: "10.1.0.0/24", gateway: "fd00::1" }),
    path: "delegates[0].ipam.gateway",
    message: "fd00::1 is not the same IP family as subnet 10.1.0.0/24",
  },
  {
    rule: "range gateway",
    ok: hl({ ranges: [[{ subnet: "10.2.0.0/24", gateway: "10.2.0.254" }]] }),
    bad: hl({ ranges: [[{ subnet: "10.2.0.0/24", gateway: "10.2.0.255" }]] }),
    path: "delegates[0].ipam.ranges[0][0].gateway",
    message: "10.2.0.255 is the broadcast address of 10.2.0.0/24",
  },
  {
    rule: "route gw family",
    ok: hl({ subnet: "10.1.0.0/24", routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }] }),
    bad: hl({ subnet: "10.1.0.0/24", routes: [{ dst: "::/0", gw: "10.1.0.1" }] }),
    path: "delegates[0].ipam.routes[0].gw",
    message: "10.1.0.1 is not the same IP family as dst ::/0",
  },
  {
    rule: "static gateway inside its address's subnet",
    ok: ipam({ type: "static", addresses: [{ address: "10.5.0.2/24", gateway: "10.5.0.1" }] }),
    bad: ipam({ type: "static", addresses: [{ address: "10.5.0.2/24", gateway: "10.6.0.1" }] }),
    path: "delegates[0].ipam.addresses[0].gateway",
    message: "10.6.0.1 is outside subnet 10.5.0.0/24",
  },
  {
    rule: "whereabouts range_start inside",
    ok: ipam({ type: "whereabouts", range: "10.6.0.0/24", range_start: "10.6.0.10" }),
    bad: ipam({ type: "whereabouts", range: "10.6.0.0/24", range_start: "10.7.0.1" }),
    path: "delegates[0].ipam.range_start",
    message: "10.7.0.1 is outside subnet 10.6.0.0/24",
  },
  {
    rule: "whereabouts range_end inside",
    ok: ipam({ type: "whereabouts", range: "fd06::/64", range_end: "fd06::99" }),
    bad: ipam({ type: "whereabouts", range: "fd06::/64", range_end: "fd07::1" }),
    path: "delegates[0].ipam.range_end",
    message: "fd07::1 is outside subnet fd06::/64",
  },
  {
    rule: "whereabouts ipRanges",
    ok: ipam({ type: "whereabouts", ipRanges: [{ range: "10.6.0.0/24" }, { range: "fd06::/64" }] }),
    bad: ipam({ type: "whereabouts", ipRanges: [{ range: "10.6.0.0/24", range_start: "10.8.0.1" }] }),
    path: "delegates[0].ipam.ipRanges[0].range_start",
    message: "10.8.0.1 is outside subnet 10.6.0.0/24",
  },
  {
    rule: "overlapping subnets across delegates",
    ok: nc([
      { name: "a", type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/24" } },
      { name: "b", type: "bridge", ipam: { type: "host-local", subnet: "10.1.1.0/24" } },
    ]),
    bad: nc([
      { name: "a", type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/16" } },
      { name: "b", type: "bridge", ipam: { type: "host-local", subnet: "10.1.2.0/24" } },
    ]),
    path: "delegates[1].ipam.subnet",
    message: '10.1.2.0/24 overlaps 10.1.0.0/16 at delegates[0].ipam.subnet (network "a")',
  },
  {
    rule: "overlapping subnets across attachments",
    ok: att(
      { name: "a", type: "bridge", ipam: { type: "host-local", subnet: "fd00::/64" } },
      { name: "c", type: "macvlan", ipam: { type: "static", addresses: [{ address: "fd01::5/64" }] } },
    ),
    bad: att(
      { name: "a", type: "bridge", ipam: { type: "host-local", subnet: "fd00::/48" } },
      { name: "c", type: "macvlan", ipam: { type: "whereabouts", range: "fd00:0:0:7::/64" } },
    ),
    path: "ns/c.ipam.range",
    message: 'fd00:0:0:7::/64 overlaps fd00::/48 at ns/a.ipam.subnet (network "a")',
  },
  {
    rule: "one subnet, disjoint ranges: no overlap",
    ok: att(
      { name: "a", type: "macvlan", ipam: { type: "host-local", subnet: "10.3.0.0/24", rangeStart: "10.3.0.10", rangeEnd: "10.3.0.99" } },
      { name: "c", type: "macvlan", ipam: { type: "host-local", subnet: "10.3.0.0/24", rangeStart: "10.3.0.100", rangeEnd: "10.3.0.199" } },
    ),
    bad: att(
      { name: "a", type: "macvlan", ipam: { type: "host-local", subnet: "10.3.0.0/24", rangeStart: "10.3.0.10", rangeEnd: "10.3.0.100" } },
      { name: "c", type: "macvlan", ipam: { type: "host-local", subnet: "10.3.0.0/24", rangeStart: "10.3.0.100", rangeEnd: "10.3.0.199" } },
    ),
    path: "ns/c.ipam.subnet",
    message: '10.3.0.100-10.3.0.199 of 10.3.0.0/24 overlaps 10.3.0.10-10.3.0.100 of 10.3.0.0/24 at ns/a.ipam.subnet (network "a")',
  },
  {
    rule: "one network listed twice is not an overlap",
    ok: {
      attachments: [
        { path: "ns/a", ifname: "net1", config: { name: "a", type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/24" } } },
        { path: "ns/a", ifname: "net2", config: { name: "a", type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/24" } } },
      ],
    },
    bad: {
      attachments: [
        { path: "ns1/a", config: { name: "a", type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/24" } } },
        { path: "ns2/a", config: { name: "a", type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.128/25" } } },
      ],
    },
    path: "ns2/a.ipam.subnet",
    message: '10.1.0.128/25 overlaps 10.1.0.0/24 at ns1/a.ipam.subnet (network "a")',
  },
];

// The type of every known netconf field.
const PATH_FIELDS = [
  "kubeconfig",
  "cniDir",
  "confDir",
  "binDir",
  "readinessindicatorfile",
  "logFile",
  "podResourcesSocket",
  "kubeletCheckpoint",
  "deviceInfoDir",
];
for (const key of ["type", "clusterNetwork", "multusNamespace", "globalNamespaces", ...PATH_FIELDS]) {
  rules.push({
    rule: `${key} is a string`,
    ok: nc([bridge], { [key]: PATH_FIELDS.includes(key) ? "/x" : "x" }),
    bad: nc([bridge], { [key]: 3 }),
    path: key,
    message: "must be a string",
  });
}
// Resolved against the runtime's working directory, a relative path is another file on every call.
for (const key of PATH_FIELDS) {
  rules.push({
    rule: `${key} is an absolute path`,
    ok: nc([bridge], { [key]: "/var/lib/x" }),
    bad: nc([bridge], { [key]: "var/lib/x" }),
    path: key,
    message: '"var/lib/x" must be an absolute path',
  });
}
// Each duration becomes a timer: more than 0, at most an hour.
for (const key of ["delegateTimeout", "addTimeout", "readinessTimeout", "apiTimeout", "apiDeadline"]) {
  for (const [ok, bad] of [
    [3600, 3600.5],
    [0.001, 0],
    [1, 1e10],
    [30, -1],
    [5, "5"],
  ]) {
    rules.push({
      rule: `${key} ${JSON.stringify(bad)} is out of range`,
      ok: nc([bridge], { [key]: ok }),
      bad: nc([bridge], { [key]: bad }),
      path: key,
      message: DURATION,
    });
  }
}
for (const key of ["cniVersions", "defaultNetworks", "systemNamespaces"]) {
  rules.push({
    rule: `${key} is a list of strings`,
    ok: nc([bridge], { [key]: ["x"] }),
    bad: nc([bridge], { [key]: ["x", 1] }),
    path: key,
    message: "must be a list of strings",
  });
}
for (const key of ["namespaceIsolation", "logToStderr", "always_use_default", "retryDeleteOnError"]) {
  rules.push({
    rule: `${key} is a bool`,
    ok: nc([bridge], { [key]: false }),
    bad: nc([bridge], { [key]: "true" }),
    path: key,
    message: "must be true or false",
  });
}
for (const key of ["runtimeConfig", "prevResult"]) {
  rules.push({
    rule: `${key} is an object`,
    ok: nc([bridge], { [key]: {} }),
    bad: nc([bridge], { [key]: [] }),
    path: key,
    message: "must be an object",
  });
}

for (const { rule, ok, bad, path, message } of rules) {
  t.test(`rule: ${rule}`, async (t) => {
    const a = validateInput(ok);
    t.equal(a.type, "valid", `passes: ${JSON.stringify(a)}`);
    t.same(
      validateInput(bad),
      { type: "invalid", errors: [{ path, message }], warnings: validateInput(bad).warnings },
      `fails with ${path}: ${message}`,
    );
  });
}

for (const { rule, ok, bad, path, message } of warnings) {
  t.test(`warning: ${rule}`, async (t) => {
    t.same(validateInput(ok), { type: "valid", warnings: [] }, "passes without a warning");
    t.same(validateInput(bad), { type: "valid", warnings: [{ path, message }] }, `passes, warning ${path}: ${message}`);
  });
}

t.test("warnings: unknown netconf keys, unnamed delegates; they never make a config invalid", async (t) => {
  t.same(validateInput(nc([bridge], { colour: "blue" })), {
    type: "valid",
    warnings: [{ path: "colour", message: "is not a field this plugin knows; it is ignored" }],
  });
  t.same(validateInput(nc([{ type: "bridge" }])), {
    type: "valid",
    warnings: [{ path: "delegates[0].name", message: "is missing; the netconf's name and the index are used" }],
  });
  t.same(validateInput(nc([bridge])), { type: "valid", warnings: [] });
});

t.test("every problem at once, each with its path", async (t) => {
  const a = validateInput({
    ...nc([{ name: "a", type: "../a", ipam: { type: "host-local", subnet: "10.0.0.0/8", gateway: "10.0.0.0" } }], { logLevel: "x" }),
    attachments: [
      { path: "default/macvlan-a", ifname: "net1/", config: { type: "macvlan", ipam: { type: "host-local", subnet: "10.1.0.0/33" } } },
    ],
  });
  t.equal(a.type, "invalid");
  if (a.type !== "invalid") return;
  t.same(a.errors.map((e) => e.path).sort(), [
    "default/macvlan-a.interface",
    "default/macvlan-a.ipam.subnet",
    "default/macvlan-a.name",
    "delegates[0].type",
    "logLevel",
  ]);
});

t.test("assertValid: code 7, the first problem in msg, all in details", async (t) => {
  t.throws(() => assertValid(nc([{ type: "../x", cniVersion: "7" }])), {
    code: 7,
    message: `delegates[0].cniVersion: "7" is not a supported CNI version ${VERSIONS}`,
    details: `delegates[0].cniVersion: "7" is not a supported CNI version ${VERSIONS}\ndelegates[0].type: "../x" is a path; it must be a bare plugin name such as "bridge"`,
  });
  t.same(assertValid(nc([bridge])), [], "valid: its warnings, none");
});

t.test("inputs the validator cannot read are answers, not exceptions", async (t) => {
  const v = instantiate(wasmBytes());
  t.same(JSON.parse(v.validate("{")), {
    type: "invalid",
    errors: [{ path: "", message: "input is not valid JSON: EOF while parsing an object at line 1 column 1" }],
    warnings: [],
  });
  t.same(JSON.parse(v.validate("[]")), {
    type: "invalid",
    errors: [{ path: "", message: 'input must be an object {"netconf": ..., "attachments": [...]}' }],
    warnings: [],
  });
  t.same(JSON.parse(v.validate(`${"[".repeat(5000)}${"]".repeat(5000)}`)), {
    type: "invalid",
    errors: [{ path: "", message: "input is nested too deeply (more than 128 levels of lists and objects)" }],
    warnings: [],
  });
  t.same(JSON.parse(v.validate('{"netconf": {"name": "\ud800", "kubeconfig": "/k"}}')), { type: "valid", warnings: [] });
  const cyclic: Record<string, unknown> = { name: "m" };
  cyclic.self = cyclic;
  t.match(validateInput({ netconf: cyclic }), { type: "invalid", errors: [{ path: "", message: /^input cannot be written as JSON: / }] });
  t.match(validateInput({ netconf: { name: "m", kubeconfig: "/k", n: 1n } as unknown as JsonObject }), {
    type: "invalid",
    errors: [{ path: "" }],
  });
  t.same(validateInput(undefined as unknown as ValidatorInput), {
    type: "invalid",
    errors: [{ path: "", message: 'input must be an object {"netconf": ..., "attachments": [...]}' }],
    warnings: [],
  });
});

t.test("a large input (a megabyte of delegates) is answered and memory is reused", async (t) => {
  const v = instantiate(wasmBytes());
  const delegates = Array.from({ length: 5000 }, (_, i) => ({
    name: `n${i}`,
    type: "bridge",
    ipam: { type: "host-local", subnet: `10.${i >> 8}.${i & 255}.0/24` },
    pad: "x".repeat(150),
  }));
  const input = JSON.stringify({ netconf: { name: "m", delegates } });
  t.ok(input.length > 1e6);
  for (let i = 0; i < 3; i++) t.same(JSON.parse(v.validate(input)), { type: "valid", warnings: [] });
});

t.test("through the built plugin: an invalid IPAM block fails the ADD before anything is attached", async (t) => {
  const ns = makeNetns(t);
  cleanupLink(t, "mtvalid0");
  const conf = {
    cniVersion: "1.0.0",
    name: "m",
    type: "multus",
    cniDir: "/tmp/multus-validate-test-unused",
    delegates: [
      { name: "b", type: "bridge", bridge: "mtvalid0", ipam: { type: "host-local", subnet: "10.250.0.0/24", rangeStart: "10.250.1.5" } },
    ],
  };
  for (const command of ["ADD", "CHECK"]) {
    const r = await runPlugin({ command, containerId: "val-1", netns: ns.path, stdin: conf });
    t.equal(r.json?.code, 7, command);
    t.equal(r.json?.msg, "delegates[0].ipam.rangeStart: 10.250.1.5 is outside subnet 10.250.0.0/24");
  }
  t.same(links(ns.name), []);
  // DEL is not blocked by config problems.
  const d = await runPlugin({ command: "DEL", containerId: "val-1", netns: ns.path, stdin: conf });
  t.equal(d.code, 0, d.stdout);
});

t.test("every single-file rule above, through the built file (`multus validate` on the same inputs)", async (t) => {
  const dir = tempDir(t);
  // Netconf rules as netconf files; single-attachment rules as a conf file each.
  // (Interface names come from the pod, not from a file: those rules are checked above only.)
  // (A conf file of type multus is our own netconf: the rule against a NAD of that type is checked above only.)
  const cases = rules.filter(({ bad }) =>
    bad.netconf !== undefined
      ? bad.attachments === undefined
      : bad.attachments?.length === 1 && bad.attachments[0].ifname === undefined && !isMultusPluginType(bad.attachments[0].config.type),
  );
  const files = cases.map(({ rule, bad, path, message }, i) => {
    const f = join(dir, `rule-${i}.conf`);
    const content = bad.netconf ? { type: "multus", ...bad.netconf } : bad.attachments![0].config;
    writeFileSync(f, JSON.stringify(content));
    return { rule, f, line: `${f}: ${path.replace(/^ns\/[a-z]+\./, "")}: ${message}` };
  });
  const r = await runPlugin({
    argv: ["validate", ...files.map((x) => x.f)],
    stdin: "",
    env: { CNI_IFNAME: undefined, CNI_PATH: undefined },
  });
  t.equal(r.code, 1);
  // Each line is at FILE:LINE:COLUMN (tests/cli-validate.test.ts checks positions); compared here without them.
  const lines = new Set(r.stdout.split("\n").map((l) => l.replace(/^(.*?\.conf):\d+:\d+: /, "$1: ")));
  for (const { rule, line } of files) t.ok(lines.has(line), `${rule}: ${line}`);
});

t.test("the interface-name rule is the same in TypeScript and in the validator", async (t) => {
  const names = [
    "eth0",
    "net1",
    "a-b",
    "a_b",
    ".a",
    "...",
    "abcdefghijklmno",
    "abcdefghijklmnop",
    "n@abcdefghijklmné",
    ".",
    "..",
    "a/b",
    "a b",
    "a\tb",
    "a:1",
    "é",
    "lo",
    "lo0",
    "net\u00001",
  ];
  for (const name of names) {
    const ts = ifNameProblem(name) === undefined;
    const a = validateInput({ attachments: [{ path: "ns/x", ifname: name, config: { cniVersion: "1.0.0", name: "x", type: "bridge" } }] });
    const rust = !(a.type === "invalid" && a.errors.some((p) => p.path === "ns/x.interface"));
    t.equal(rust, ts, `${JSON.stringify(name)}: both ${ts ? "accept" : "refuse"} it`);
  }
});

t.test("the plugin types that are a Multus are the same in TypeScript and in the validator", async (t) => {
  const rust = readFileSync(join(ROOT, "wasm", "src", "delegate.rs"), "utf8");
  const m = /pub const MULTUS_TYPES: \[&str; \d+\] = \[([^\]]*)\];/.exec(rust);
  t.ok(m, "the Rust list was found");
  t.same(
    [...(m?.[1] ?? "").matchAll(/"([^"]+)"/g)].map((x) => x[1]),
    [...MULTUS_PLUGIN_TYPES],
  );
  for (const type of MULTUS_PLUGIN_TYPES) {
    t.match(validateInput(nc([{ name: "x", type }])), { type: "invalid", errors: [{ path: "delegates[0].type" }] }, type);
  }
});

t.test("IPAM errors are configs the IPAM plugin itself refuses; IPAM warnings are configs it accepts", async (t) => {
  const dir = tempDir(t);
  let n = 0;
  /** Run Debian's host-local or static on this block: does it give an address? */
  const accepts = (block: JsonObject): boolean => {
    const conf = { cniVersion: "1.0.0", name: `mtipam${n}`, type: "bridge", ipam: { ...block, dataDir: dir } };
    const r = spawnSync(join(CNI_BIN, String(block.type)), {
      input: JSON.stringify(conf),
      env: { CNI_COMMAND: "ADD", CNI_CONTAINERID: `mtipam${n++}`, CNI_NETNS: "/var/run/netns/none", CNI_IFNAME: "eth0", CNI_PATH: CNI_BIN },
    });
    return r.status === 0;
  };
  const blockOf = (i: ValidatorInput): JsonObject | undefined => {
    const d = i.netconf?.delegates as JsonObject[] | undefined;
    const b = d?.length === 1 && d[0].type === "bridge" ? (d[0].ipam as JsonObject) : undefined;
    return b && (b.type === "host-local" || b.type === "static") ? b : undefined;
  };
  // host-local passes a route without dst on as "dst": "<nil>", which no runtime can read.
  const refusedDownstream = new Set(["route dst required"]);
  let checked = 0;
  for (const r of rules) {
    const b = blockOf(r.bad);
    if (!b || refusedDownstream.has(r.rule)) continue;
    t.notOk(accepts(b), `${b.type} refuses it too: ${r.rule}`);
    checked++;
  }
  for (const r of warnings) {
    const b = blockOf(r.bad);
    if (!b) continue;
    t.ok(accepts(b), `${b.type} accepts it: ${r.rule}`);
    checked++;
  }
  t.ok(checked > 25, `${checked} rules checked against the plugins`);
});

t.test("through the built plugin: what is certainly wrong fails the ADD; what is questionable is logged", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const log = join(s.dir, "multus.log");
  const add = (id: string, stdin: string | object) => runPlugin({ command: "ADD", containerId: id, netns: ns.path, stdin });

  const loop = await add("val-loop", s.netconf([s.bridge(), { name: "again", type: "multus", delegates: [s.bridge()] }]));
  t.equal(loop.json?.code, 7);
  t.equal(loop.json?.msg, 'delegates[1].type: "multus" is a Multus: a Multus cannot be a delegate (it would call itself)');

  t.teardown(() => rmSync(join(process.cwd(), "mt-multus-cache"), { recursive: true, force: true }));
  const relative = await add("val-rel", s.netconf([s.bridge()], { cniDir: "mt-multus-cache" }));
  t.equal(relative.json?.code, 7);
  t.equal(relative.json?.msg, 'cniDir: "mt-multus-cache" must be an absolute path');

  const huge = await add("val-huge", s.netconf([s.bridge()], { delegateTimeout: 1e10 }));
  t.equal(huge.json?.code, 7);
  t.equal(huge.json?.msg, `delegateTimeout: ${DURATION}`);
  t.same(links(ns.name), [], "nothing attached");

  // 5000 levels of lists: valid JSON that no config needs; a decode failure, not an invalid config.
  const deep = await add("val-deep", `{"name": "m", "delegates": [], "x": ${"[".repeat(5000)}${"]".repeat(5000)}}`);
  t.equal(deep.json?.code, 6);
  t.equal(deep.json?.msg, "error decoding network config: nested too deeply (more than 64 levels of lists and objects)");

  const questionable = s.netconf([s.bridge()], { colour: "blue", logFile: log, logLevel: "info" });
  const ok = await add("val-warn", questionable);
  t.equal(ok.code, 0, ok.stdout);
  t.same(links(ns.name), ["eth0"]);
  const lines = logEntries(log);
  t.match(
    lines.find((l) => l.msg === "config warnings"),
    { level: "info", verb: "ADD", warnings: ["colour: is not a field this plugin knows; it is ignored"] },
    "the warning is in the log",
  );
  const del = await runPlugin({ command: "DEL", containerId: "val-warn", netns: ns.path, stdin: questionable });
  t.equal(del.code, 0, del.stdout);
});

t.test("through the built plugin: networks sharing addresses are a logged warning, never a failed ADD", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const log = join(s.dir, "multus.log");
  const second = uniqueName("mtbr");
  cleanupLink(t, second);
  const { cidr, prefix } = s.subnets[0];
  const range = (name: string, bridge: string, start: number, end: number) =>
    s.bridge({
      name,
      bridge,
      ipam: {
        type: "host-local",
        dataDir: s.ipamDir,
        ranges: [[{ subnet: cidr, rangeStart: `${prefix}.${start}`, rangeEnd: `${prefix}.${end}` }]],
      },
    });
  const warningsOf = (id: string) =>
    logEntries(log)
      .filter((l) => l.msg === "config warnings" && l.containerID === id)
      .flatMap((l) => (l.warnings as string[] | undefined) ?? []);
  const run = async (id: string, delegates: unknown[]) => {
    const stdin = s.netconf(delegates, { logFile: log, logLevel: "info" });
    const add = await runPlugin({ command: "ADD", containerId: id, netns: ns.path, stdin });
    t.equal(add.code, 0, `${id}: ${add.stdout}`);
    t.same(links(ns.name).sort(), ["eth0", "net1"]);
    t.equal((await runPlugin({ command: "DEL", containerId: id, netns: ns.path, stdin })).code, 0);
  };

  await run("val-disjoint", [range("a", s.bridgeName, 10, 99), range("b", second, 100, 199)]);
  t.notOk(
    warningsOf("val-disjoint").some((w) => /overlaps/.test(w)),
    "one /24, disjoint ranges: no overlap at all",
  );
  await run("val-overlap", [range("a", s.bridgeName, 10, 120), range("b", second, 100, 199)]);
  t.match(warningsOf("val-overlap"), [/overlaps/], "ranges that share addresses: a warning in the log, the ADD still succeeds");
  t.same(reservations(s.ipamDir), []);
});
