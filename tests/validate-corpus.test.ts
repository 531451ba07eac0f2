// The golden corpus (tests/fixtures/networks, see its README): the configs
// cluster networks and secondary-network projects ship. Each one passes the
// validator, as our delegate and as a NetworkAttachmentDefinition's config,
// and an ADD through the built plugin runs its plugins with the config as
// written (recording stand-ins replace the plugins that are not installed).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import type { JsonObject } from "../lib/json.ts";
import { validateInput } from "../lib/validate.ts";
import { makeNetns, tempDir } from "./helpers/netns.ts";
import { recordingPlugins } from "./helpers/recording-plugin.ts";
import { ROOT, runPlugin } from "./helpers/run-plugin.ts";

const DIR = join(ROOT, "tests", "fixtures", "networks");
const FILES = readdirSync(DIR)
  .filter((f) => /\.conf(list)?$/.test(f))
  .sort();
const load = (f: string): JsonObject => JSON.parse(readFileSync(join(DIR, f), "utf8"));

/** The plugins of a conf or conflist, each as its plugin receives it (libcni's name and cniVersion). */
function pluginsOf(conf: JsonObject, cniVersion: string): JsonObject[] {
  const version = (conf.cniVersion as string | undefined) ?? cniVersion;
  if (!Array.isArray(conf.plugins)) return [{ ...conf, cniVersion: version }];
  return (conf.plugins as JsonObject[]).map((p) => ({ ...p, name: conf.name, cniVersion: version }));
}

t.test("the corpus has the standard config of every project it names", async (t) => {
  const projects = [
    "flannel",
    "calico",
    "calico-host-local",
    "calico-host-local-dual-stack",
    "canal",
    "cilium",
    "weave",
    "antrea",
    "kindnet",
    "k3s",
    "ovn-kubernetes",
    "sriov",
    "ib-sriov",
    "ovs",
    "macvlan-whereabouts",
    "ipvlan-static",
    "host-device-dhcp",
    "tuning",
    "bandwidth",
    "portmap",
  ];
  t.same(FILES.map((f) => f.replace(/\.conf(list)?$/, "")).sort(), projects.sort());
  const readme = readFileSync(join(DIR, "README.md"), "utf8");
  for (const f of FILES) t.ok(readme.includes(`\`${f}\``), `README.md names the source of ${f}`);
});

t.test("no config of the corpus has an error, as a delegate or as a NAD's config", async (t) => {
  for (const f of FILES) {
    const conf = load(f);
    const asDelegate = validateInput({ netconf: { cniVersion: "1.0.0", name: "multus", type: "multus", delegates: [conf] } });
    t.equal(asDelegate.type, "valid", `${f} as a delegate: ${JSON.stringify(asDelegate)}`);
    const asNad = validateInput({ attachments: [{ path: `default/${String(conf.name)}`, ifname: "net1", config: conf }] });
    t.equal(asNad.type, "valid", `${f} as a NetworkAttachmentDefinition: ${JSON.stringify(asNad)}`);
  }
  // All of them as one pod's networks, kindnet's twice under two names: the overlap is a warning.
  const kindnet = load("kindnet.conflist");
  const all = validateInput({
    attachments: [...FILES.map(load), { ...kindnet, name: "kindnet-2" }].map((config, i) => ({
      path: `default/${i}`,
      ifname: `net${i + 1}`,
      config,
    })),
  });
  t.equal(all.type, "valid", JSON.stringify(all));
  t.same(all.warnings, [
    // The static IPAM docs' own example: a warning, as everything host-local and static accept.
    {
      path: `default/${FILES.indexOf("ipvlan-static.conf")}.ipam.addresses[1].gateway`,
      message: "3ffe:ffff::1 is outside subnet 3ffe:ffff:0:1ff::/64",
    },
    {
      path: `default/${FILES.length}.plugins[0].ipam.ranges[0][0].subnet`,
      message: `10.244.0.0/24 overlaps 10.244.0.0/24 at default/${FILES.indexOf("kindnet.conflist")}.plugins[0].ipam.ranges[0][0].subnet (network "kindnet")`,
    },
  ]);
});

t.test("multus validate: every file of the corpus is valid", async (t) => {
  const r = await runPlugin({
    argv: ["validate", ...FILES.map((f) => join(DIR, f))],
    stdin: "",
    env: { CNI_IFNAME: undefined, CNI_PATH: undefined },
  });
  t.equal(r.code, 0, r.stdout);
  t.notMatch(r.stdout, /^(?!warning: )\S+: /m, "no errors");
  t.match(r.stdout, new RegExp(`${FILES.length} file\\(s\\) valid\\n$`));
});

for (const f of FILES) {
  t.test(`${f}: an ADD reaches its plugins with the config as written, and DEL too`, async (t) => {
    const conf = load(f);
    const cniVersion = (conf.cniVersion as string | undefined) ?? "1.0.0";
    const plugins = pluginsOf(conf, cniVersion);
    const ipamTypes = plugins.flatMap((p) => {
      const ipam = p.ipam as JsonObject | undefined;
      return typeof ipam?.type === "string" ? [ipam.type] : [];
    });
    const stubs = recordingPlugins(t, [...plugins.map((p) => String(p.type)), ...ipamTypes]);
    const ns = makeNetns(t);
    const netconf = {
      cniVersion,
      name: "mtcorpus",
      type: "multus",
      cniDir: join(tempDir(t), "cache"),
      binDir: stubs.dir,
      delegates: [conf],
    };
    const call = (command: string) => runPlugin({ command, containerId: "corpus-1", netns: ns.path, path: stubs.dir, stdin: netconf });

    const add = await call("ADD");
    t.equal(add.code, 0, add.stdout);
    const added = stubs.calls();
    t.same(
      added.map((c) => `${c.command} ${c.type}`),
      plugins.map((p) => `ADD ${String(p.type)}`),
      "each plugin once, in order",
    );
    added.forEach((c, i) => {
      const { prevResult, ...given } = c.stdin;
      t.same(given, plugins[i], `plugin ${i} (${c.type}) got its config unchanged`);
      t.equal(prevResult === undefined, i === 0, "a prevResult from the plugin before it");
      t.match(c.env, { CNI_COMMAND: "ADD", CNI_CONTAINERID: "corpus-1", CNI_IFNAME: "eth0", CNI_NETNS: ns.path });
    });

    const del = await call("DEL");
    t.equal(del.code, 0, del.stdout);
    t.same(
      stubs
        .calls()
        .slice(added.length)
        .map((c) => `${c.command} ${c.type}`),
      plugins.map((p) => `DEL ${String(p.type)}`).reverse(),
      "DEL runs them in reverse",
    );
  });
}
