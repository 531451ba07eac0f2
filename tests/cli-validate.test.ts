// `multus validate` on good and bad files, through the built file: exact
// messages, each at FILE:LINE:COLUMN of the value the rule rejects.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { tempDir } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";

const human = (argv: string[]) => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });

const GOOD_NAD = `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata:
  name: macvlan-conf
  namespace: ns1
spec:
  config: '{"cniVersion": "1.0.0", "type": "macvlan", "master": "eth1", "ipam": {"type": "host-local", "subnet": "10.20.0.0/24"}}'
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: ns1
  annotations:
    k8s.v1.cni.cncf.io/networks: macvlan-conf@data0
spec:
  containers: [{name: c, image: x}]
`;

const BAD = `apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: bad-range, namespace: ns1}
spec:
  config: '{"cniVersion": "1.0.0", "type": "bridge", "ipam": {"type": "host-local", "subnet": "10.1.0.0/24", "rangeStart": "10.9.0.5"}}'
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: evil, namespace: ns1}
spec:
  config: '{"cniVersion": "1.0.0", "type": "../../bin/sh"}'
---
apiVersion: k8s.cni.cncf.io/v1
kind: NetworkAttachmentDefinition
metadata: {name: broken, namespace: ns1}
spec:
  config: '{"type": '
---
apiVersion: kubernetes.com/v1
kind: Network
metadata: {name: old, namespace: default}
plugin: flannel
args: 'not json'
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: ns1
  annotations:
    k8s.v1.cni.cncf.io/networks: "net-a@my interface"
`;

t.test("valid files pass with exit 0", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "nad.yaml"), GOOD_NAD);
  writeFileSync(
    join(dir, "00-multus.conf"),
    JSON.stringify({
      cniVersion: "1.0.0",
      name: "m",
      type: "multus",
      kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig",
      delegates: [{ name: "b", type: "bridge" }],
    }),
  );
  writeFileSync(
    join(dir, "10-list.conflist"),
    JSON.stringify({ cniVersion: "1.0.0", name: "l", plugins: [{ type: "ptp" }, { type: "portmap" }] }),
  );
  const r = await human(["validate", join(dir, "nad.yaml"), join(dir, "00-multus.conf"), join(dir, "10-list.conflist")]);
  t.equal(r.code, 0, r.stdout);
  t.equal(r.stdout, "3 file(s) valid\n");
});

t.test("every problem, with file, object and field; exit 1", async (t) => {
  const dir = tempDir(t);
  const f = join(dir, "bad.yaml");
  writeFileSync(f, BAD);
  const c = join(dir, "bad.conf");
  writeFileSync(
    c,
    JSON.stringify(
      {
        name: "m",
        type: "multus",
        delegates: [
          { type: "bridge", masterplugin: true },
          { type: "ptp", masterplugin: true },
        ],
      },
      null,
      2,
    ),
  );
  const r = await human(["validate", f, c]);
  t.equal(r.code, 1);
  const lines = r.stdout.trimEnd().split("\n");
  t.equal(lines.length, 9, r.stdout);
  t.match(lines, [
    `${f}:5:124: NetworkAttachmentDefinition ns1/bad-range: spec.config.ipam.rangeStart: 10.9.0.5 is outside subnet 10.1.0.0/24`,
    `${f}:11:44: NetworkAttachmentDefinition ns1/evil: spec.config.type: "../../bin/sh" is a path; it must be a bare plugin name such as "bridge"`,
    // Our own tokenizer's words, the same under every runtime, at the end of the config string.
    `${f}:17:21: NetworkAttachmentDefinition ns1/broken: spec.config: is not valid JSON: expected a value (an object, list, string, number, true, false or null), got the end of the text`,
    // After "is not valid JSON: " come the JSON parser's own words, which differ
    // between V8 (node, deno) and JavaScriptCore (Bun: dist/multus).
    `${f}:23:8: Network default/old: "args" is not valid JSON: `,
    `${f}:31:35: Pod ns1/p: metadata.annotations[k8s.v1.cni.cncf.io/networks]: item 1 "net-a@my interface" is not [namespace/]name[@interface]: interface name "my interface" must not contain whitespace`,
    `${c}:9:5: delegates[1]: only one delegate can have "masterplugin": true (also delegates[0])`,
    `warning: ${c}:5:5: delegates[0].name: is missing; the netconf's name and the index are used`,
    `warning: ${c}:9:5: delegates[1].name: is missing; the netconf's name and the index are used`,
    "6 problem(s) in 2 file(s)",
  ]);
});

t.test("unreadable and malformed files are problems too", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "x.yaml"), "a: [1\n");
  const r = await human(["validate", join(dir, "missing.conf"), join(dir, "x.yaml")]);
  t.equal(r.code, 1);
  t.match(r.stdout, /missing\.conf: cannot read: ENOENT/);
  t.match(r.stdout, /x\.yaml:2:1: is not valid YAML: unexpected end of the stream within a flow collection\n/);
  const none = await human(["validate"]);
  t.equal(none.code, 2, "no file named: a usage mistake");
  t.match(none.stderr, /name at least one file/);
});

t.test("a .conf or .conflist that is not JSON: FILE:LINE:COL of the syntax error, in text and --json", async (t) => {
  const dir = tempDir(t);
  const conf = join(dir, "10-bad.conf");
  writeFileSync(conf, '{\n  "cniVersion": "1.0.0",\n  "name": "x",\n  "type": "bridge",,\n}\n');
  const list = join(dir, "20-bad.conflist");
  writeFileSync(list, '{\n  "cniVersion": "1.0.0",\n  "name": "y",\n  "plugins": [ {"type": "bridge"}\n}\n');
  const r = await human(["validate", conf, list]);
  t.equal(r.code, 1);
  t.match(r.stdout, `${conf}:4:20: is not valid JSON: expected a key in double quotes, got ","\n`);
  t.match(r.stdout, `${list}:5:1: is not valid JSON: expected "," or "]" after item 0, got "}"\n`);
  const j = await human(["validate", "--json", conf]);
  t.equal(j.code, 1);
  t.match(j.json, {
    ok: false,
    errors: 1,
    problems: [{ file: conf, line: 4, column: 20, severity: "error", message: /is not valid JSON/ }],
  });
});

t.test("a conflist whose plugins[0] is multus is checked as the plugin's netconf (the list's name and cniVersion)", async (t) => {
  const dir = tempDir(t);
  const list = {
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    plugins: [
      {
        type: "multus",
        namespaceIsolation: "yes",
        delegates: [{ cniVersion: "1.0.0", name: "cbr0", plugins: [{ type: "flannel", delegate: { isDefaultGateway: true } }] }],
      },
    ],
  };
  writeFileSync(join(dir, "00-multus.conflist"), JSON.stringify(list));
  const r = await human(["validate", join(dir, "00-multus.conflist")]);
  t.equal(r.code, 1, r.stdout);
  t.match(r.stdout, /00-multus\.conflist:1:100: plugins\[0\]\.namespaceIsolation: /, r.stdout);
  list.plugins[0].namespaceIsolation = true as unknown as string;
  writeFileSync(join(dir, "00-multus.conflist"), JSON.stringify(list));
  const ok = await human(["validate", join(dir, "00-multus.conflist")]);
  t.equal(ok.code, 0, ok.stdout);
});

t.test("a FIFO is not read: said as such", async (t) => {
  const dir = tempDir(t);
  execFileSync("mkfifo", [join(dir, "fifo.conf")]);
  const r = await human(["validate", join(dir, "fifo.conf")]);
  t.equal(r.code, 1);
  t.match(r.stdout, /fifo\.conf: is a FIFO, not a regular file/);
});

t.test("warnings alone are printed and leave the exit code 0", async (t) => {
  const dir = tempDir(t);
  const f = join(dir, "00-multus.conf");
  writeFileSync(
    f,
    JSON.stringify(
      {
        cniVersion: "1.0.0",
        name: "m",
        type: "multus",
        colour: "blue",
        delegates: [
          { name: "a", type: "bridge", ipam: { type: "host-local", subnet: "10.1.0.0/16" } },
          { name: "b", type: "macvlan", ipam: { type: "host-local", subnet: "10.1.2.0/24", gateway: "10.1.3.1" } },
        ],
      },
      null,
      2,
    ),
  );
  const r = await human(["validate", f]);
  t.equal(r.code, 0, r.stdout);
  t.same(r.stdout.trimEnd().split("\n"), [
    `warning: ${f}:5:13: colour: is not a field this plugin knows; it is ignored`,
    `warning: ${f}:21:20: delegates[1].ipam.gateway: 10.1.3.1 is outside subnet 10.1.2.0/24`,
    `warning: ${f}:20:19: delegates[1].ipam.subnet: 10.1.2.0/24 overlaps 10.1.0.0/16 at delegates[0].ipam.subnet (network "a")`,
    "1 file(s) valid",
  ]);
});

t.test("a conflist whose one plugin is a Multus (upstream's installer writes that) is checked as our netconf", async (t) => {
  const dir = tempDir(t);
  const f = join(dir, "00-multus.conflist");
  const multus = {
    type: "multus",
    capabilities: { portMappings: true },
    kubeconfig: "/etc/cni/net.d/multus.d/multus.kubeconfig",
    delegates: [{ cniVersion: "1.0.0", name: "cbr0", plugins: [{ type: "flannel", delegate: { isDefaultGateway: true } }] }],
  };
  writeFileSync(f, JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", plugins: [multus] }));
  const r = await human(["validate", f]);
  t.equal(r.code, 0, r.stdout);
  t.equal(r.stdout, "1 file(s) valid\n");
  writeFileSync(
    f,
    JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", plugins: [{ ...multus, kubeconfig: "multus.kubeconfig" }] }),
  );
  const bad = await human(["validate", f]);
  t.equal(bad.code, 1);
  t.match(bad.stdout, `${f}:1:129: plugins[0].kubeconfig: "multus.kubeconfig" must be an absolute path`);
});
