// Netconf and delegate loading: defaults, field checks, what survives untouched.
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { pluginConfig, pluginTypeProblem } from "../lib/delegate.ts";
import {
  DEFAULT_BIN_DIR,
  DEFAULT_CNI_DIR,
  DEFAULT_LOG_ROTATION,
  decodeNetconf,
  loadNetconf,
  MAX_DURATION_S,
  NETCONF_FIELDS,
} from "../lib/netconf.ts";
import { fakeBin } from "./helpers/fake-plugins.ts";
import { links, makeNetns, reservations } from "./helpers/netns.ts";
import { ROOT, runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

const parseNetconf = (text: string) => loadNetconf(decodeNetconf(text));

t.test("defaults", async (t) => {
  const c = parseNetconf(JSON.stringify({ name: "m", delegates: [{ type: "bridge" }] }));
  t.equal(c.cniVersion, "0.1.0", "no cniVersion means 0.1.0");
  t.equal(c.cniDir, DEFAULT_CNI_DIR);
  t.equal(c.binDir, DEFAULT_BIN_DIR);
  t.equal(c.mode, "legacy");
  t.equal(c.timeouts.delegateMs, 60_000);
  t.equal(c.delegates[0].name, "m-0", "unnamed delegates are named after us");
  t.equal(c.delegates[0].cniVersion, "0.1.0");
});

t.test("unknown fields in delegates survive untouched", async (t) => {
  const d = {
    type: "calico",
    name: "k8s-pod-network",
    cniVersion: "0.3.1",
    kubernetes: { kubeconfig: "/etc/x" },
    mtu: 1440,
    masterplugin: false,
  };
  const c = parseNetconf(JSON.stringify({ name: "m", cniVersion: "0.3.1", delegates: [d] }));
  t.same(c.delegates[0].config, d);
  t.same(pluginConfig(c.delegates[0], 0), d);
});

t.test("a conflist delegate: each plugin gets the list's name and cniVersion", async (t) => {
  const c = parseNetconf(
    JSON.stringify({
      name: "m",
      cniVersion: "1.0.0",
      delegates: [
        {
          name: "cbr0",
          plugins: [
            { type: "bridge", bridge: "cni0" },
            { type: "portmap", capabilities: { portMappings: true } },
          ],
        },
      ],
    }),
  );
  const d = c.delegates[0];
  t.equal(d.kind, "conflist");
  t.same(d.pluginTypes, ["bridge", "portmap"]);
  t.same(pluginConfig(d, 1, { cniVersion: "1.0.0" }), {
    type: "portmap",
    capabilities: { portMappings: true },
    name: "cbr0",
    cniVersion: "1.0.0",
    prevResult: { cniVersion: "1.0.0" },
  });
});

t.test("kubeconfig selects CRD mode and allows an empty delegates list", async (t) => {
  const c = parseNetconf(JSON.stringify({ name: "m", kubeconfig: "/etc/kubeconfig" }));
  t.equal(c.mode, "crd");
  t.same(c.delegates, []);
});

t.test("plugin type names", async (t) => {
  t.equal(pluginTypeProblem("bridge"), undefined);
  t.equal(pluginTypeProblem("sriov-cni_2.0"), undefined);
  for (const bad of ["../bridge", "/opt/cni/bin/bridge", "a\\b", "..", "-x", "", "a b"]) {
    t.type(pluginTypeProblem(bad), "string", bad);
  }
  t.type(pluginTypeProblem(7), "string");
});

t.test("field errors name the field", async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ name: "m", delegates: "bridge" }, /"delegates" must be a list/],
    [{ name: "m", delegates: [{ type: "bridge", cniVersion: "5.0.0" }] }, /delegates\[0\]\.cniVersion: "5.0.0" is not a supported/],
    [{ name: "m", delegates: [{ type: "bridge", ipam: "host-local" }] }, /delegates\[0\]\.ipam: must be an object/],
    [{ name: "m", delegates: [{ plugins: [] }] }, /delegates\[0\]\.plugins: must be a non-empty list/],
    [{ name: "m", delegates: [{ type: "bridge" }], delegateTimeout: 0 }, /"delegateTimeout" must be a number of seconds greater than 0/],
    [{ name: "m", delegates: [{ type: "bridge" }], namespaceIsolation: "yes" }, /"namespaceIsolation" must be true or false/],
    [{ name: "bad name!", delegates: [{ type: "bridge" }] }, /"name" "bad name!" has invalid characters/],
  ];
  for (const [conf, msg] of bad) t.throws(() => parseNetconf(JSON.stringify(conf)), { code: 7, message: msg });
});

t.test("the TypeScript field list and the validator's field list are the same", async (t) => {
  const rust = readFileSync(join(ROOT, "wasm", "src", "netconf.rs"), "utf8");
  const table = rust.slice(rust.indexOf("const FIELDS"), rust.indexOf("];", rust.indexOf("const FIELDS")));
  const inRust = [...table.matchAll(/\("([^"]+)", Kind::/g)].map((m) => m[1]);
  t.ok(inRust.length > 20, "the Rust table was found");
  t.same([...inRust].sort(), [...NETCONF_FIELDS].sort());
});

t.test("typed sections: Kubernetes, timeouts, log, GC's list", async (t) => {
  const c = parseNetconf(
    JSON.stringify({
      name: "m",
      cniVersion: "1.1.0",
      kubeconfig: "/k",
      systemNamespaces: ["kube-system", "infra"],
      globalNamespaces: "default, shared",
      namespaceIsolation: true,
      always_use_default: true,
      addTimeout: 30,
      logFile: "/var/log/multus.log",
      logLevel: "debug",
      runtimeConfig: { portMappings: [] },
      "cni.dev/valid-attachments": [{ containerID: "c1", ifname: "eth0" }],
    }),
  );
  t.same(c.kubernetes, {
    kubeconfig: "/k",
    multusNamespace: "kube-system",
    systemNamespaces: ["kube-system", "infra"],
    defaultNetworks: [],
    namespaceIsolation: true,
    globalNamespaces: ["default", "shared"],
    alwaysUseDefault: true,
    podEvents: true,
  });
  t.same(c.timeouts, { delegateMs: 60_000, addMs: 30_000, readinessMs: 10_000, apiRequestMs: 5_000, apiDeadlineMs: 20_000 });
  t.same(c.log, { file: "/var/log/multus.log", level: "debug", toStderr: false, rotation: DEFAULT_LOG_ROTATION });
  t.same(c.runtimeConfig, { portMappings: [] });
  t.same(c.validAttachments, [{ containerID: "c1", ifname: "eth0" }]);
  t.equal(c.retryDeleteOnError, true, "our default keeps failed DELs for the retry");
});

t.test("nothing outside lib/netconf.ts reads netconf keys from the raw JSON", async (t) => {
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const f of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, f.name);
      if (f.isDirectory()) walk(p);
      else if (p.endsWith(".ts") && !p.endsWith("netconf.ts") && /netconf\.raw\b/.test(readFileSync(p, "utf8"))) offenders.push(p);
    }
  };
  walk(join(ROOT, "lib"));
  t.same(offenders, []);
});

t.test("a duration too long for a timer is clamped to the longest one allowed, never passed on", async (t) => {
  const c = parseNetconf(
    JSON.stringify({
      name: "m",
      delegates: [{ type: "bridge" }],
      delegateTimeout: 1e10,
      addTimeout: 2_147_484,
      readinessTimeout: 3600,
      apiTimeout: Number.MAX_VALUE,
      apiDeadline: 0.5,
    }),
  );
  t.same(c.timeouts, { delegateMs: 3_600_000, addMs: 3_600_000, readinessMs: 3_600_000, apiRequestMs: 3_600_000, apiDeadlineMs: 500 });
  t.equal(MAX_DURATION_S, 3600);
});

t.test("decoding: JSON nested deeper than any config is a decode failure (code 6), not an invalid config", async (t) => {
  const nested = (n: number) => `{"name": "m", "x": ${"[".repeat(n)}${"]".repeat(n)}}`;
  t.doesNotThrow(() => decodeNetconf(nested(62)), "62 levels of lists in the netconf object: 63 in all");
  t.throws(() => decodeNetconf(nested(64)), {
    code: 6,
    message: "error decoding network config: nested too deeply (more than 64 levels of lists and objects)",
  });
  t.throws(() => decodeNetconf(nested(5000)), { code: 6 });
  t.throws(() => decodeNetconf(`{"a": ${'{"a": '.repeat(100)}1${"}".repeat(100)}}`), { code: 6 });
});

t.test("CHECK with a delegateTimeout too long for a timer names the field; DEL detaches (clamped, never 1 ms)", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([s.bridge()]);
  const add = await runPlugin({ command: "ADD", containerId: "mt-huge-timeout", netns: ns.path, stdin: conf });
  t.equal(add.code, 0, add.stdout);
  t.same(links(ns.name), ["eth0"]);
  for (const delegateTimeout of [1e10, 2_147_484]) {
    const huge = { ...conf, delegateTimeout };
    const check = await runPlugin({
      command: "CHECK",
      containerId: "mt-huge-timeout",
      netns: ns.path,
      stdin: { ...huge, prevResult: add.json },
    });
    t.match(
      check.json,
      { code: 7, msg: /^delegateTimeout: must be a number of seconds greater than 0 and at most 3600/ },
      "CHECK names the field",
    );
  }
  for (const delegateTimeout of [1e10, 2_147_484]) {
    const del = await runPlugin({ command: "DEL", containerId: "mt-huge-timeout", netns: ns.path, stdin: { ...conf, delegateTimeout } });
    t.equal(del.code, 0, `DEL with delegateTimeout ${delegateTimeout}: ${del.stdout}`);
  }
  t.same(links(ns.name), [], "detached");
  t.same(reservations(s.ipamDir), [], "and its address released");
});

t.test(
  "GC with a delegateTimeout too long for a timer reaches its 1.1.0 delegates (clamped, never 1 ms); STATUS names the field",
  async (t) => {
    const s = scenario(t);
    const log = join(s.dir, "calls");
    // Each verb takes a moment, as a real plugin does: a 1 ms timer would kill it.
    const path = fakeBin(t, { "mt-slow11": `sleep 0.2; echo "$CNI_COMMAND" >> ${log}; cat >/dev/null; exit 0` });
    const conf = s.netconf([{ cniVersion: "1.1.0", name: "slow11", type: "mt-slow11" }], { cniVersion: "1.1.0" });
    for (const delegateTimeout of [1e10, 2_147_484]) {
      const huge = { ...conf, delegateTimeout };
      const gc = await runPlugin({ command: "GC", containerId: "", netns: "", path, stdin: { ...huge, "cni.dev/valid-attachments": [] } });
      t.equal(gc.code, 0, `GC with delegateTimeout ${delegateTimeout}: ${gc.stdout}`);
      const status = await runPlugin({ command: "STATUS", containerId: "", netns: "", path, stdin: huge });
      t.match(
        status.json,
        { code: 7, msg: /^delegateTimeout: must be a number of seconds/ },
        "STATUS: the config is not usable, and says why",
      );
    }
    t.same(readFileSync(log, "utf8").trim().split("\n"), ["GC", "GC"], "each GC of the delegate ran to its end");
  },
);

t.test("DEL with a duration that is no number of seconds detaches with the default (a bad config never blocks teardown)", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([s.bridge()]);
  t.equal((await runPlugin({ command: "ADD", containerId: "mt-bad-timeout", netns: ns.path, stdin: conf })).code, 0);
  const bad = { ...conf, delegateTimeout: -1, addTimeout: "90", apiTimeout: 0 };
  const add = await runPlugin({ command: "ADD", containerId: "mt-bad-timeout2", netns: ns.path, stdin: bad });
  t.equal(add.json?.code, 7, "an ADD refuses it");
  const del = await runPlugin({ command: "DEL", containerId: "mt-bad-timeout", netns: ns.path, stdin: bad });
  t.equal(del.code, 0, del.stdout);
  t.same(links(ns.name), [], "detached");
  t.same(reservations(s.ipamDir), []);
});

t.test("a relative path: ADD refuses it; DEL and GC resolve it as any earlier ADD did, and never fail on it", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const conf = s.netconf([s.bridge()], { cniDir: "mt-relative-cache" });
  t.teardown(() => rmSync(join(process.cwd(), "mt-relative-cache"), { recursive: true, force: true }));
  const add = await runPlugin({ command: "ADD", containerId: "mt-rel", netns: ns.path, stdin: conf });
  t.equal(add.json?.code, 7, add.stdout);
  t.same(loadNetconf({ ...conf, name: "m" }).cniDir, "mt-relative-cache", "loaded as written");
  const del = await runPlugin({ command: "DEL", containerId: "mt-rel", netns: ns.path, stdin: conf });
  t.equal(del.code, 0, del.stdout);
  const gc = await runPlugin({
    command: "GC",
    containerId: "",
    netns: "",
    stdin: { ...conf, cniVersion: "1.1.0", "cni.dev/valid-attachments": [] },
  });
  t.equal(gc.code, 0, `GC: ${gc.stdout}`);
});
