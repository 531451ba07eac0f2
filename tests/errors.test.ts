// Bad environment or stdin: the spec's error object, the right code, exit 1.
// In-process (no namespace is needed); the built file is checked to answer the same.
import t from "tap";
import { dispatchCall } from "./helpers/dispatch.ts";
import { runPlugin } from "./helpers/run-plugin.ts";

const good = {
  cniVersion: "1.0.0",
  name: "m",
  type: "multus",
  cniDir: "/tmp/multus-errors-test-unused",
  delegates: [{ type: "bridge", name: "b" }],
};
const env = { containerId: "e1", netns: "/run/netns/none" };

const cases: { what: string; call: Parameters<typeof runPlugin>[0]; code: number; msg: RegExp }[] = [
  { what: "missing CNI_COMMAND", call: { ...env, stdin: good }, code: 4, msg: /required env variables \[CNI_COMMAND\] missing/ },
  { what: "unknown CNI_COMMAND", call: { ...env, command: "BOGUS", stdin: good }, code: 4, msg: /unknown CNI_COMMAND: BOGUS/ },
  {
    what: "missing CNI_CONTAINERID",
    call: { command: "ADD", netns: "/x", stdin: good },
    code: 4,
    msg: /required env variables \[CNI_CONTAINERID\] missing/,
  },
  {
    what: "ADD without CNI_NETNS and CNI_IFNAME",
    call: { command: "ADD", containerId: "e1", stdin: good, env: { CNI_IFNAME: undefined } },
    code: 4,
    msg: /required env variables \[CNI_NETNS,CNI_IFNAME\] missing/,
  },
  {
    what: "interface name too long",
    call: { ...env, command: "ADD", ifName: "a-very-long-ifname", stdin: good },
    code: 4,
    msg: /CNI_IFNAME "a-very-long-ifname" is longer than 15 bytes/,
  },
  {
    what: "malformed CNI_ARGS",
    call: { ...env, command: "ADD", args: "K8S_POD_NAME", stdin: good },
    code: 4,
    msg: /CNI_ARGS: invalid pair "K8S_POD_NAME"/,
  },
  { what: "truncated JSON", call: { ...env, command: "ADD", stdin: '{"name":' }, code: 6, msg: /error decoding network config: / },
  { what: "empty stdin", call: { ...env, command: "ADD", stdin: "" }, code: 6, msg: /stdin is empty/ },
  { what: "JSON that is not an object", call: { ...env, command: "ADD", stdin: "[1,2]" }, code: 6, msg: /not a JSON object/ },
  {
    what: "unknown cniVersion",
    call: { ...env, command: "ADD", stdin: { ...good, cniVersion: "9.9.9" } },
    code: 1,
    msg: /incompatible CNI versions/,
  },
  { what: "missing name", call: { ...env, command: "ADD", stdin: { ...good, name: undefined } }, code: 7, msg: /^name: is required$/ },
  {
    what: "empty delegates",
    call: { ...env, command: "ADD", stdin: { ...good, delegates: [] } },
    code: 7,
    msg: /^delegates: must list at least one network when neither kubeconfig nor clusterNetwork is set$/,
  },
  {
    what: "delegate without type",
    call: { ...env, command: "ADD", stdin: { ...good, delegates: [{ name: "x" }] } },
    code: 7,
    msg: /^delegates\[0\]\.type: is required$/,
  },
  {
    what: "masterplugin not a bool",
    call: { ...env, command: "ADD", stdin: { ...good, delegates: [{ type: "bridge", masterplugin: "yes" }] } },
    code: 7,
    msg: /delegates\[0\]\.masterplugin: must be true or false/,
  },
  {
    what: "cniDir not a string",
    call: { ...env, command: "ADD", stdin: { ...good, cniDir: 5 } },
    code: 7,
    msg: /^cniDir: must be a string$/,
  },
];

for (const c of cases) {
  t.test(`${c.what}: code ${c.code}`, async (t) => {
    const r = await dispatchCall(c.call);
    t.equal(r.code, 1, "exit code 1");
    t.ok(r.json, `stdout is JSON: ${r.stdout}`);
    t.equal(r.json!.code, c.code);
    t.match(r.json!.msg, c.msg);
    t.type(r.json!.cniVersion, "string");
  });
}

t.test("the built file gives the same replies and exits 1", async (t) => {
  for (const c of cases.slice(0, 6)) {
    const [inProcess, built] = await Promise.all([dispatchCall(c.call), runPlugin(c.call)]);
    t.equal(built.code, 1, `${c.what}: exit code 1`);
    t.same(built.json, inProcess.json, `${c.what}: same reply`);
  }
});

t.test("the error reply carries the config's cniVersion", async (t) => {
  const r = await dispatchCall({ ...env, command: "ADD", stdin: { ...good, cniVersion: "0.4.0", delegates: [] } });
  t.equal(r.json!.cniVersion, "0.4.0");
});

t.test("every problem of the config is reported at once: the first in msg, all in details", async (t) => {
  const bad = {
    ...good,
    delegates: [
      { type: "bridge", name: "a", ipam: { type: "host-local", subnet: "10.1.0.0/24", rangeStart: "10.9.0.5" } },
      { type: "../ptp", name: "b" },
      { type: "ptp", name: "c", ipam: { type: "host-local", subnet: "10.2.0.0/33" } },
    ],
  };
  const r = await dispatchCall({ ...env, command: "ADD", stdin: bad });
  t.equal(r.json!.code, 7);
  t.equal(r.json!.msg, "delegates[0].ipam.rangeStart: 10.9.0.5 is outside subnet 10.1.0.0/24");
  const details = String(r.json!.details).split("\n");
  // Each at its place in the text on stdin (one line here; tests/json-position.test.ts has more).
  t.ok(
    details.every((l) => /^<stdin>:1:\d+: /.test(l)),
    "each problem at <stdin>:LINE:COLUMN",
  );
  t.same(
    details.map((l) => l.replace(/^<stdin>:1:\d+: /, "")),
    [
      "delegates[0].ipam.rangeStart: 10.9.0.5 is outside subnet 10.1.0.0/24",
      'delegates[1].type: "../ptp" is a path; it must be a bare plugin name such as "bridge"',
      "delegates[2].ipam.subnet: 10.2.0.0/33 is not a valid CIDR (address/prefix)",
    ],
  );
});
