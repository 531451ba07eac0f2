// Logging: structured lines, levels, and secrets never written.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { createLogger, redact } from "../lib/log.ts";
import { makeNetns } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

t.test("redact() removes secrets by key and by shape", async (t) => {
  t.same(redact({ token: "abc", nested: { "client-key-data": "LS0t", password: "p", keep: "x" }, list: [{ secretName: "s" }] }), {
    token: "[redacted]",
    nested: { "client-key-data": "[redacted]", password: "[redacted]", keep: "x" },
    list: [{ secretName: "[redacted]" }],
  });
  t.equal(redact("401 with Authorization: Bearer eyJhbGciOi.abc.def"), "401 with Authorization: Bearer [redacted]");
  t.equal(redact('{"token":"t0k3n","name":"x"}'), '{"token":"[redacted]","name":"x"}');
  t.equal(redact("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"), "[redacted private key]");
});

t.test("levels: error < info < debug; nothing at all without a sink", async (t) => {
  const lines: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => {
    lines.push(s);
    return true;
  }) as typeof process.stderr.write;
  try {
    const log = createLogger({ logToStderr: true, logLevel: "info" }).with({ verb: "ADD", containerID: "c1" });
    log.debug("hidden");
    log.info("shown", { network: "n" });
    createLogger({ logLevel: "debug" }).error("no sink");
  } finally {
    process.stderr.write = orig;
  }
  t.equal(lines.length, 1);
  t.match(JSON.parse(lines[0]), { level: "info", verb: "ADD", containerID: "c1", msg: "shown", network: "n" });
});

t.test("the plugin logs each verb with container, pod and network, and redacts the netconf", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const logFile = join(s.dir, "multus.log");
  const secretive = s.bridge({ kubernetes: { kubeconfig: "/etc/x", token: "s3cr3t-value" } });
  const conf = s.netconf([secretive, s.ptp()], { logFile, logLevel: "debug" });
  const call = { containerId: "log-1", netns: ns.path, args: "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web", stdin: conf };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  const text = readFileSync(logFile, "utf8");
  t.notMatch(text, /s3cr3t-value/, "the token is not in the log");
  const entries = text
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  for (const e of entries)
    t.match(e, { ts: String, level: /^(error|info|debug)$/, verb: /^(ADD|DEL)$/, containerID: "log-1", pod: "ns1/web" });
  t.ok(entries.some((e) => e.verb === "ADD" && e.msg === "attached" && e.network === "ptp-net" && e.interface === "net1"));
  t.ok(entries.some((e) => e.verb === "DEL" && e.msg === "detached" && e.network === "br-net"));
  t.ok(entries.some((e) => e.msg === "ADD done" && typeof e.ms === "number"));
});

t.test("DEL with an invalid config still tears down, and logs the config's problems", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const logFile = join(s.dir, "del.log");
  const call = { containerId: "log-2", netns: ns.path, stdin: s.netconf([s.bridge()]) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  const broken = s.netconf([s.bridge({ ipam: { type: "host-local", subnet: "10.1.0.0/33" } })], { logFile });
  const d = await runPlugin({ ...call, command: "DEL", stdin: broken });
  t.equal(d.code, 0, d.stdout);
  const entries = readFileSync(logFile, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  t.ok(
    entries.some(
      (e) => e.msg === "config problems (not blocking teardown)" && /10\.1\.0\.0\/33 is not a valid CIDR/.test(JSON.stringify(e.problems)),
    ),
  );
});
