// From upstream Multus to this file, on nodes laid out as upstream leaves
// them (tests/fixtures/upstream: what its installer wrote, its cache
// records): install adopts upstream's config in place (a .conf, or the
// conflist v4.2.4 and later write for CNI 1.0.0), never nests multus inside
// multus, replaces upstream's binary (told by its Go build info), and the
// plugin works where the runtime calls it (plugins[0] of a conflist). And
// back: uninstall refuses while pods still have records, and keeps a conf
// with hand-added delegates. docs/migration.md is written from these steps.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { confFiles } from "../lib/files.ts";
import { goBinaryLike } from "./helpers/go-binary.ts";
import { addresses, links, makeNetns, tempDir } from "./helpers/netns.ts";
import { PLUGIN, runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

type Json = Record<string, unknown>;
const FIXTURES = join(import.meta.dirname, "fixtures", "upstream");
const V41 = join(FIXTURES, "upstream-multus-v4.1.4");
const V424 = join(FIXTURES, "upstream-multus-v4.2.4-and-later");
const fixture = (file: string): Json => JSON.parse(readFileSync(file, "utf8"));
const upstreamConflist = fixture(join(V424, "00-multus.conflist"));
/** The cluster network of the v4.2.4 fixture, as flannel wrote it (upstream copied it into delegates[0]). */
const flannel100 = ((upstreamConflist.plugins as Json[])[0].delegates as Json[])[0];

const human = (argv: string[]) => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
const readJson = (file: string): Json => JSON.parse(readFileSync(file, "utf8"));

function node(t: Test) {
  const root = tempDir(t);
  const binDir = join(root, "bin");
  const confDir = join(root, "net.d");
  mkdirSync(confDir);
  mkdirSync(binDir);
  const dirs = ["--bin-dir", binDir, "--conf-dir", confDir];
  return { root, binDir, confDir, dirs };
}

/** The conf dir's first config, as the runtime picks it, parsed. */
const firstConf = (confDir: string) => ({ name: confFiles(confDir)[0], value: readJson(join(confDir, confFiles(confDir)[0])) });

/** A Multus config nested in `conf`'s delegates (what made the first ADD hang). */
const nestedMultus = (plugin: Json) =>
  (plugin.delegates as Json[]).filter(
    (d) => d.type === "multus" || (Array.isArray(d.plugins) && (d.plugins as Json[]).some((p) => p.type === "multus")),
  );

t.test(
  "v4.2.4 and later: upstream's 00-multus.conflist is adopted in place, a conflist with multus as plugins[0]; a re-run changes nothing",
  async (t) => {
    const n = node(t);
    copyFileSync(join(V424, "00-multus.conflist"), join(n.confDir, "00-multus.conflist"));
    writeFileSync(join(n.confDir, "10-flannel.conflist"), JSON.stringify(flannel100));
    const r = await human(["install", ...n.dirs]);
    t.equal(r.code, 0, r.stderr);
    t.same(readdirSync(n.confDir).sort(), ["00-multus.conflist", "10-flannel.conflist"], "no second multus config: no 00-multus.conf");
    t.match(
      r.stdout,
      /updated .*00-multus\.conflist \(delegates to 10-flannel\.conflist, Kubernetes mode with \/etc\/cni\/net\.d\/multus\.d\/multus\.kubeconfig\)/,
    );
    t.match(r.stdout, /kept settings: .*namespaceIsolation.*logLevel.*logFile/);

    const first = firstConf(n.confDir);
    t.equal(first.name, "00-multus.conflist", "the runtime's first file is ours");
    const list = first.value;
    t.match(list, { cniVersion: "1.0.0", name: "multus-cni-network" });
    const plugins = list.plugins as Json[];
    t.equal(plugins.length, 1);
    const [plugin] = plugins;
    t.match(plugin, {
      type: "multus",
      capabilities: { portMappings: true },
      namespaceIsolation: true,
      logLevel: "verbose",
      logFile: "/var/log/multus.log",
      kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig",
      multusInstall: { delegatesTo: join(n.confDir, "10-flannel.conflist") },
    });
    t.notOk("name" in plugin || "cniVersion" in plugin, "name and cniVersion at the list's level only: libcni gives them to plugins[0]");
    t.same(plugin.delegates, [flannel100], "delegates[0] is flannel's conf, not upstream's multus conflist");
    t.same(nestedMultus(plugin), [], "no multus inside multus");

    const bytes = readFileSync(join(n.confDir, "00-multus.conflist"));
    const ino = statSync(join(n.confDir, "00-multus.conflist")).ino;
    const again = await human(["install", ...n.dirs]);
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /00-multus\.conflist: unchanged/);
    t.ok(readFileSync(join(n.confDir, "00-multus.conflist")).equals(bytes), "identical bytes");
    t.equal(statSync(join(n.confDir, "00-multus.conflist")).ino, ino, "not even rewritten");

    const v = await human(["validate", join(n.confDir, "00-multus.conflist")]);
    t.equal(v.code, 0, v.stdout);
    t.notMatch(v.stdout, /warning/, v.stdout);
  },
);

t.test("upstream's conflist with every setting its installer can write, and a delegate added by hand: all of it kept", async (t) => {
  const n = node(t);
  const list = structuredClone(upstreamConflist);
  const [plugin] = list.plugins as Json[];
  const settings = {
    globalNamespaces: "kube-system,team-a",
    readinessindicatorfile: "/run/flannel/subnet.env",
    confDir: n.confDir,
    binDir: n.binDir,
    logToStderr: false,
  };
  const handAdded = { cniVersion: "1.0.0", name: "storage", type: "macvlan", master: "eth1", ipam: { type: "dhcp" } };
  Object.assign(plugin, settings);
  plugin.delegates = [...(plugin.delegates as Json[]), handAdded];
  writeFileSync(join(n.confDir, "00-multus.conflist"), JSON.stringify(list));
  writeFileSync(join(n.confDir, "10-flannel.conflist"), JSON.stringify(flannel100));
  const r = await human(["install", ...n.dirs]);
  t.equal(r.code, 0, r.stderr);
  for (const k of Object.keys(settings)) t.match(r.stdout, new RegExp(`kept settings: .*\\b${k}\\b`), `the output names ${k} as kept`);
  const adopted = (readJson(join(n.confDir, "00-multus.conflist")).plugins as Json[])[0];
  t.match(adopted, {
    ...settings,
    kubeconfig: plugin.kubeconfig,
    namespaceIsolation: true,
    logLevel: "verbose",
    logFile: "/var/log/multus.log",
  });
  t.same(adopted.delegates, [flannel100, handAdded], "the cluster network regenerated, the hand-added delegate kept");
  t.same(readdirSync(n.confDir).sort(), ["00-multus.conflist", "10-flannel.conflist"]);
  t.match((await human(["install", ...n.dirs])).stdout, /00-multus\.conflist: unchanged/);
});

t.test(
  'v4.1.4: upstream\'s 00-multus.conf is adopted in place; its "cniConf" (a key no plugin reads) is dropped, and the output says so',
  async (t) => {
    const n = node(t);
    copyFileSync(join(V41, "node-after-install", "00-multus.conf"), join(n.confDir, "00-multus.conf"));
    copyFileSync(join(V41, "node-after-install", "10-flannel.conflist"), join(n.confDir, "10-flannel.conflist"));
    const upstream = fixture(join(V41, "node-after-install", "00-multus.conf"));
    const r = await human(["install", ...n.dirs]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /dropped "cniConf" \(a key upstream's installer writes and no plugin reads; the plugin reads "confDir"\)/);
    t.match(r.stdout, /multusInstall \(adopting a multus config install did not write\)/);
    t.same(readdirSync(n.confDir).sort(), ["00-multus.conf", "10-flannel.conflist"]);
    const conf = readJson(join(n.confDir, "00-multus.conf"));
    t.match(conf, {
      cniVersion: "0.3.1",
      name: "multus-cni-network",
      type: "multus",
      capabilities: { portMappings: true },
      kubeconfig: upstream.kubeconfig,
    });
    t.notOk("cniConf" in conf);
    t.same(conf.delegates, [fixture(join(V41, "node-after-install", "10-flannel.conflist"))]);
    t.match((await human(["install", ...n.dirs])).stdout, /00-multus\.conf: unchanged/);
    const v = await human(["validate", join(n.confDir, "00-multus.conf")]);
    t.equal(v.code, 0, v.stdout);
    t.notMatch(v.stdout, /cniConf/, "no warning left about it");
  },
);

t.test("--generate-kubeconfig on upstream's node: its multus.kubeconfig is replaced, and the output says so", async (t) => {
  const n = node(t);
  const upstreamFiles = join(V41, "node-after-install");
  copyFileSync(join(upstreamFiles, "00-multus.conf"), join(n.confDir, "00-multus.conf"));
  copyFileSync(join(upstreamFiles, "10-flannel.conflist"), join(n.confDir, "10-flannel.conflist"));
  mkdirSync(join(n.confDir, "multus.d"));
  const kubeconfig = join(n.confDir, "multus.d", "multus.kubeconfig");
  copyFileSync(join(upstreamFiles, "multus.kubeconfig"), kubeconfig);
  const sa = join(n.root, "sa");
  mkdirSync(sa);
  writeFileSync(join(sa, "token"), "tok-1");
  writeFileSync(join(sa, "ca.crt"), "CA PEM\n");
  writeFileSync(join(sa, "namespace"), "kube-system");
  const argv = ["install", ...n.dirs, "--generate-kubeconfig", "--service-account-dir", sa];
  const env = { CNI_IFNAME: undefined, CNI_PATH: undefined, KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
  const r = await runPlugin({ argv, stdin: "", env });
  t.equal(r.code, 0, r.stderr);
  t.match(
    r.stdout,
    /wrote .*multus\.kubeconfig \(https:\/\/10\.96\.0\.1:443, namespace kube-system.*; it replaces a kubeconfig multus install did not generate/,
  );
  t.match(
    readFileSync(kubeconfig, "utf8"),
    /tokenFile: ".*multus\.d\/token"/,
    "ours now: the token read from a file that install refreshes",
  );
  t.equal(readJson(join(n.confDir, "00-multus.conf")).kubeconfig, kubeconfig);
  t.match((await runPlugin({ argv, stdin: "", env })).stdout, /multus\.kubeconfig: unchanged/, "a re-run leaves it");
});

t.test(
  "both of upstream's files (a v4.1 .conf, then a v4.2.4 .conflist): the first is adopted, the second set aside as .old",
  async (t) => {
    const n = node(t);
    copyFileSync(join(V41, "node-after-install", "00-multus.conf"), join(n.confDir, "00-multus.conf"));
    copyFileSync(join(V424, "00-multus.conflist"), join(n.confDir, "00-multus.conflist"));
    writeFileSync(join(n.confDir, "10-flannel.conflist"), JSON.stringify(flannel100));
    const r = await human(["install", ...n.dirs]);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /set aside .*00-multus\.conflist as 00-multus\.conflist\.old \(a second multus config/);
    t.same(readdirSync(n.confDir).sort(), ["00-multus.conf", "00-multus.conflist.old", "10-flannel.conflist"]);
    t.same(confFiles(n.confDir), ["00-multus.conf", "10-flannel.conflist"], "one multus config left for the runtime");
    t.same(readJson(join(n.confDir, "00-multus.conf")).delegates, [flannel100]);
    t.same(readJson(join(n.confDir, "00-multus.conflist.old")), upstreamConflist, "set aside as it was");
    t.match((await human(["install", ...n.dirs])).stdout, /00-multus\.conf: unchanged/);
  },
);

t.test("a node where an earlier install nested upstream's conflist in 00-multus.conf: taken apart, its settings kept", async (t) => {
  const n = node(t);
  copyFileSync(join(V424, "00-multus.conflist"), join(n.confDir, "00-multus.conflist"));
  writeFileSync(join(n.confDir, "10-flannel.conflist"), JSON.stringify(flannel100));
  // What the earlier install wrote: upstream's conflist taken as the cluster network, and a delegate a user added.
  const storage = {
    cniVersion: "1.0.0",
    name: "storage",
    type: "macvlan",
    master: "eth1",
    ipam: { type: "host-local", subnet: "10.20.0.0/24" },
  };
  const nested = {
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    type: "multus",
    multusInstall: { version: "0.0.0-dev", delegatesTo: join(n.confDir, "00-multus.conflist") },
    capabilities: { portMappings: true },
    delegates: [upstreamConflist, storage],
  };
  writeFileSync(join(n.confDir, "00-multus.conf"), JSON.stringify(nested));
  const doc = await human(["doctor", ...n.dirs]);
  t.equal(doc.code, 1);
  t.match(doc.stdout, /FAIL {2}conf: delegates\[0\] \("multus-cni-network"\) is itself a multus config: multus would run inside multus/);

  const r = await human(["install", ...n.dirs]);
  t.equal(r.code, 0, r.stderr);
  t.match(
    r.stdout,
    /delegates\[0\] \(multus-cni-network\) was itself a multus config: taken apart, its settings kept: .*namespaceIsolation/,
  );
  t.match(r.stdout, /kept 1 user delegate: storage/);
  t.same(confFiles(n.confDir), ["00-multus.conf", "10-flannel.conflist"]);
  const conf = readJson(join(n.confDir, "00-multus.conf"));
  t.same(conf.delegates, [flannel100, storage]);
  t.match(conf, { namespaceIsolation: true, logLevel: "verbose", kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig" });
  t.same(nestedMultus(conf), []);
  t.match((await human(["install", ...n.dirs])).stdout, /00-multus\.conf: unchanged/);
});

t.test("a multus delegate other than delegates[0] is refused (multus inside multus); --force drops it", async (t) => {
  const n = node(t);
  writeFileSync(join(n.confDir, "10-flannel.conflist"), JSON.stringify(flannel100));
  t.equal((await human(["install", ...n.dirs])).code, 0);
  const conf = readJson(join(n.confDir, "00-multus.conf"));
  (conf.delegates as unknown[]).push({ cniVersion: "1.0.0", name: "inner", type: "multus-shim" });
  writeFileSync(join(n.confDir, "00-multus.conf"), JSON.stringify(conf));
  const r = await human(["install", ...n.dirs]);
  t.equal(r.code, 1);
  t.match(r.stderr, /delegates\[1\] \(inner\) is a multus config: multus would run inside multus/);
  const forced = await human(["install", ...n.dirs, "--force"]);
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stdout, /dropped delegates\[1\] \(inner\)/);
  t.same(readJson(join(n.confDir, "00-multus.conf")).delegates, [flannel100]);
});

t.test("upstream's thick plugin conf (type multus-shim) is adopted: its daemon's keys are dropped, it becomes a multus conf", async (t) => {
  const n = node(t);
  copyFileSync(join(V41, "node-after-install", "10-flannel.conflist"), join(n.confDir, "10-flannel.conflist"));
  // The shape upstream's thick daemon writes (pkg/server/config: the MultusConf it marshals).
  const shim = {
    capabilities: { portMappings: true },
    clusterNetwork: "/host/etc/cni/net.d/10-flannel.conflist",
    cniVersion: "0.3.1",
    logLevel: "verbose",
    logToStderr: true,
    name: "multus-cni-network",
    type: "multus-shim",
    daemonSocketDir: "/run/multus",
  };
  writeFileSync(join(n.confDir, "00-multus.conf"), JSON.stringify(shim));
  const r = await human(["install", ...n.dirs]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /type "multus-shim" \(upstream's thick plugin\) is now "multus"/);
  t.match(r.stdout, /dropped "clusterNetwork"/);
  t.match(r.stdout, /dropped "daemonSocketDir"/);
  const conf = readJson(join(n.confDir, "00-multus.conf"));
  t.match(conf, { type: "multus", logLevel: "verbose", logToStderr: true, cniVersion: "0.3.1" });
  t.notOk("clusterNetwork" in conf || "daemonSocketDir" in conf);
  t.same(conf.delegates, [fixture(join(V41, "node-after-install", "10-flannel.conflist"))]);
});

t.test("the adopted conflist works where the runtime calls it: plugins[0], with the list's name and cniVersion (ADD, DEL)", async (t) => {
  const s = scenario(t);
  const n = node(t);
  const ns = makeNetns(t);
  // Upstream's conflist on a node whose cluster network is a bridge; delegates mode (no API here), logs and cache in the test's dir.
  const upstreamPlugin = Object.fromEntries(Object.entries((upstreamConflist.plugins as Json[])[0]).filter(([k]) => k !== "kubeconfig"));
  const list = {
    ...upstreamConflist,
    plugins: [{ ...upstreamPlugin, logFile: join(s.dir, "multus.log"), cniDir: s.cniDir, binDir: "/usr/lib/cni" }],
  };
  writeFileSync(join(n.confDir, "00-multus.conflist"), JSON.stringify(list));
  writeFileSync(join(n.confDir, "10-bridge.conf"), JSON.stringify(s.bridge()));
  const r = await human(["install", ...n.dirs]);
  t.equal(r.code, 0, r.stderr);
  const installed = readJson(join(n.confDir, "00-multus.conflist"));
  // libcni: each plugin of a list gets the list's name and cniVersion (and no prevResult for plugins[0]).
  const plugins = installed.plugins as Json[];
  const stdin = { ...plugins[0], name: installed.name, cniVersion: installed.cniVersion };
  const call = { containerId: "mtmig1", netns: ns.path, stdin, bin: join(n.binDir, "multus") };
  const add = await runPlugin({ ...call, command: "ADD" });
  t.equal(add.code, 0, add.stdout + add.stderr);
  t.equal(add.json?.cniVersion, "1.0.0");
  t.same(links(ns.name), ["eth0"]);
  t.match(addresses(ns.name, "eth0")[0], new RegExp(`^${s.subnets[0].prefix.replace(/\./g, "\\.")}`));
  const del = await runPlugin({ ...call, command: "DEL" });
  t.equal(del.code, 0, del.stdout + del.stderr);
  t.same(links(ns.name), []);
});

t.test("upstream's bin/multus is recognised by its Go build info and replaced without --force; anything else is not", async (t) => {
  const self = readFileSync(PLUGIN);
  const cases: [string, string, boolean][] = [
    ["gopkg.in/k8snetworkplumbingwg/multus-cni.v4", "cmd/multus", true],
    ["gopkg.in/k8snetworkplumbingwg/multus-cni.v4", "cmd/multus-shim", true],
    ["gopkg.in/k8snetworkplumbingwg/multus-cni.v3", "cmd/multus", true],
    ["gopkg.in/intel/multus-cni.v3", "cmd/multus", true],
    ["github.com/k8snetworkplumbingwg/multus-cni", "cmd/multus", true],
    ["github.com/intel/multus-cni", "multus", true],
    // Upstream's installer, and another project's Go binary: not upstream's plugin.
    ["gopkg.in/k8snetworkplumbingwg/multus-cni.v4", "cmd/thin_entrypoint", false],
    ["github.com/containernetworking/plugins", "plugins/main/bridge", false],
  ];
  for (const [module, cmd, upstream] of cases) {
    const n = node(t);
    copyFileSync(join(V41, "node-after-install", "00-multus.conf"), join(n.confDir, "00-multus.conf"));
    copyFileSync(join(V41, "node-after-install", "10-flannel.conflist"), join(n.confDir, "10-flannel.conflist"));
    writeFileSync(join(n.binDir, "multus"), goBinaryLike({ module, path: `${module}/${cmd}` }), { mode: 0o755 });
    const r = await human(["install", ...n.dirs]);
    if (upstream) {
      t.equal(r.code, 0, `${module}/${cmd}: ${r.stderr}`);
      t.match(r.stdout, new RegExp(`installed .*bin/multus \\(replacing upstream Multus, ${module}/${cmd}:`), r.stdout);
      t.match(r.stdout, /kept settings: .*kubeconfig/, "what is kept is said");
      t.ok(readFileSync(join(n.binDir, "multus")).equals(self), "replaced by this program");
      t.equal(readJson(join(n.confDir, "00-multus.conf")).kubeconfig, "/etc/cni/net.d/multus.d/multus.kubeconfig", "still Kubernetes mode");
    } else {
      t.equal(r.code, 1, `${module}/${cmd}`);
      t.match(r.stderr, /bin\/multus exists and is not this program; use --force to replace it/);
      t.ok(readFileSync(join(n.binDir, "multus")).equals(goBinaryLike({ module, path: `${module}/${cmd}` })), "left alone");
    }
  }
});

t.test("--force replaces a foreign bin/multus and keeps every setting of the conf (Kubernetes mode stays)", async (t) => {
  const n = node(t);
  copyFileSync(join(V41, "node-after-install", "00-multus.conf"), join(n.confDir, "00-multus.conf"));
  copyFileSync(join(V41, "node-after-install", "10-flannel.conflist"), join(n.confDir, "10-flannel.conflist"));
  writeFileSync(join(n.binDir, "multus"), "#!/bin/sh\necho other\n", { mode: 0o755 });
  const r = await human(["install", ...n.dirs, "--force"]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /--force: replacing a file that is not this program/);
  const conf = readJson(join(n.confDir, "00-multus.conf"));
  t.equal(conf.kubeconfig, "/etc/cni/net.d/multus.d/multus.kubeconfig");
  t.same(conf.capabilities, { portMappings: true });
});

t.test(
  "back again: uninstall refuses while pods have cache records (upstream's count), keeps a conf with hand-added delegates",
  async (t) => {
    const n = node(t);
    const cniDir = join(n.root, "cni-multus");
    mkdirSync(join(cniDir, "results"), { recursive: true });
    // A pod upstream attached, as its record and libcni's results files lie in cniDir.
    copyFileSync(join(V41, "cniDir-after-add", "fxcontainer1"), join(cniDir, "fxcontainer1"));
    for (const f of readdirSync(join(V41, "cniDir-after-add", "results")))
      copyFileSync(join(V41, "cniDir-after-add", "results", f), join(cniDir, "results", f));
    copyFileSync(join(V41, "node-after-install", "10-flannel.conflist"), join(n.confDir, "10-flannel.conflist"));
    const upstream = fixture(join(V41, "node-after-install", "00-multus.conf"));
    const storage = { cniVersion: "0.3.1", name: "storage", type: "macvlan", master: "eth1" };
    writeFileSync(
      join(n.confDir, "00-multus.conf"),
      JSON.stringify({ ...upstream, cniDir, delegates: [...(upstream.delegates as Json[]), storage] }),
    );
    t.equal((await human(["install", ...n.dirs])).code, 0);

    const refused = await human(["uninstall", ...n.dirs]);
    t.equal(refused.code, 1);
    t.match(
      refused.stderr,
      new RegExp(
        `1 container on this node still has a cache record in ${cniDir} \\(fxcontainer1; 1 written by upstream Multus\\): their DEL runs .*bin/multus`,
      ),
    );
    t.ok(existsSync(join(n.confDir, "00-multus.conf")), "nothing removed");
    t.ok(existsSync(join(n.binDir, "multus")));

    const dry = await human(["uninstall", ...n.dirs, "--dry-run", "--force"]);
    t.equal(dry.code, 0, dry.stderr);
    t.match(dry.stdout, /would remove .*00-multus\.conf \(keeping as 00-multus\.conf\.bak: it holds 1 delegate added by hand: storage\)/);
    t.ok(existsSync(join(n.confDir, "00-multus.conf")));

    // The pod is gone (its DEL removed the record): uninstall goes through.
    for (const f of ["fxcontainer1", "results"]) rmSync(join(cniDir, f), { recursive: true });
    const u = await human(["uninstall", ...n.dirs]);
    t.equal(u.code, 0, u.stderr);
    t.match(u.stdout, /removed .*00-multus\.conf \(kept as 00-multus\.conf\.bak/);
    t.same(confFiles(n.confDir), ["10-flannel.conflist"], "the runtime is back on the cluster network alone");
    const bak = readJson(join(n.confDir, "00-multus.conf.bak"));
    t.same((bak.delegates as Json[])[1], storage, "the hand-added delegate is in the copy");
    t.equal(bak.kubeconfig, upstream.kubeconfig);
    t.notOk(existsSync(join(n.binDir, "multus")));
  },
);
