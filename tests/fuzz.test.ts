// Fuzzing the parsers and converters with random and mutated inputs: they
// answer or throw a CniError (with a CNI code), never anything else, never hang.
import t, { type Test } from "tap";
import { planAttachments, requestFromConfig } from "../lib/attachment.ts";
import { convertResult } from "../lib/cni/convert.ts";
import { CniError } from "../lib/cni/errors.ts";
import { normaliseResult } from "../lib/cni/result.ts";
import { SUPPORTED_VERSIONS } from "../lib/cni/version.ts";
import { decodeNetconf, loadNetconf } from "../lib/netconf.ts";
import { parseDefaultNetworkAnnotation, parseLegacyNetworks, parseNetworkSelections } from "../lib/selection.ts";
import { Gen, rng } from "./helpers/fuzz.ts";
import { makeNetns, tempDir } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";

const parseNetconf = (text: string) => loadNetconf(decodeNetconf(text));

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const N = Number(process.env.FUZZ_COUNT ?? 3000);
const BUDGET_MS = 8000;

/** Run `fn` on `N` inputs (or until the time budget): count answers and clean errors. */
function fuzz(t: Test, name: string, make: (g: Gen) => unknown, fn: (input: unknown) => unknown) {
  t.test(`${name} (seed ${SEED})`, async (t) => {
    const g = new Gen(rng(SEED));
    const start = Date.now();
    let answers = 0;
    let errors = 0;
    for (let i = 0; i < N && Date.now() - start < BUDGET_MS; i++) {
      const input = make(g);
      try {
        const out = fn(input);
        JSON.stringify(out);
        answers++;
      } catch (e) {
        if (!(e instanceof CniError) || !Number.isInteger(e.code) || !e.message) {
          t.fail(`non-CNI failure on input ${JSON.stringify(input)}: ${(e as Error)?.stack ?? e}`);
          return;
        }
        errors++;
      }
    }
    t.ok(answers + errors > 0, `${answers} answers, ${errors} clean errors`);
  });
}

const ANNOTATIONS = [
  "net1",
  "default/net1@eth5",
  " net-a , other/net-b@data0 ",
  '[{"name":"net-b","ips":["10.2.2.42/24","2001:db8::5/64"],"mac":"aa:bb:cc:dd:ee:ff","default-route":["10.2.2.1"]}]',
  '[{"name":"n","interface":"x","cni-args":{"a":1},"bandwidth":{"ingressRate":1},"portMappings":[{"hostPort":80,"containerPort":8080}]}]',
];

fuzz(
  t,
  "networks annotation parser",
  (g) =>
    g.chance(0.5)
      ? g.string('abz019-./@, []{}":', 40)
      : JSON.stringify(g.mutate(JSON.parse(g.chance(0.5) ? ANNOTATIONS[3] : ANNOTATIONS[4]))),
  (v) => parseNetworkSelections(String(v), "ns1"),
);
fuzz(
  t,
  "default-network and legacy annotation parsers",
  (g) => g.pick(ANNOTATIONS) + g.string('@,/ []{}"', 3),
  (v) => {
    // The legacy parser gets the same input; only a CniError is an acceptable failure.
    try {
      parseLegacyNetworks(String(v));
    } catch (e) {
      if (!(e instanceof CniError)) throw e;
    }
    return parseDefaultNetworkAnnotation(String(v), "kube-system");
  },
);

const NETCONF = {
  cniVersion: "1.0.0",
  name: "m",
  type: "multus",
  delegates: [
    { type: "bridge", name: "b", ipam: { type: "host-local", subnet: "10.1.0.0/24" } },
    { name: "l", plugins: [{ type: "ptp" }, { type: "portmap", capabilities: { portMappings: true } }] },
    { type: "macvlan", masterplugin: false, ifnameRequest: "data0" },
  ],
};
fuzz(
  t,
  "netconf loader and attachment plan",
  (g) => (g.chance(0.1) ? g.string('{}[]":,0a', 30) : JSON.stringify(g.mutate(g.mutate(NETCONF)))),
  (text) => {
    const c = parseNetconf(String(text));
    return planAttachments(c.delegates.map(requestFromConfig), "eth0").map((a) => a.ifName);
  },
);

const RESULT = {
  cniVersion: "1.1.0",
  interfaces: [{ name: "eth0", mac: "aa:bb:cc:dd:ee:ff", sandbox: "/x", mtu: 1500 }],
  ips: [{ address: "10.1.0.2/24", gateway: "10.1.0.1", interface: 0 }, { address: "fd00::2/64" }],
  routes: [{ dst: "0.0.0.0/0", gw: "10.1.0.1" }],
  dns: { nameservers: ["10.0.0.10"], search: ["a"] },
};
fuzz(
  t,
  "result parsing and conversion to every version",
  (g) => g.mutate(g.chance(0.2) ? { cniVersion: "0.2.0", ip4: { ip: "10.1.0.2/24", routes: [{ dst: "0.0.0.0/0" }] } } : RESULT),
  (raw) =>
    SUPPORTED_VERSIONS.map((v) => {
      try {
        return convertResult(normaliseResult(raw, "1.0.0"), v);
      } catch (e) {
        if (e instanceof CniError) return e.code;
        throw e;
      }
    }),
);

t.test(`the built plugin answers random stdin with a CNI error object (seed ${SEED})`, async (t) => {
  const g = new Gen(rng(SEED + 1));
  const ns = makeNetns(t);
  const cniDir = tempDir(t);
  for (let i = 0; i < 25; i++) {
    const stdin = g.chance(0.3) ? g.string('{}[]":,0a\\', 40) : JSON.stringify({ ...(g.mutate(NETCONF) as object), cniDir });
    const r = await runPlugin({ command: "CHECK", containerId: `fuzz-${i}`, netns: ns.path, stdin });
    t.equal(r.code, 1, `exit 1 for ${stdin.slice(0, 80)}`);
    t.ok(r.json && Number.isInteger(r.json.code) && typeof r.json.msg === "string", `error object: ${r.stdout.slice(0, 120)}`);
  }
});
