// The CLI for scripts: `--json` on status, validate, doctor and install prints
// one JSON object whose fields are exactly the ones docs/reference.md
// documents for that command (its tables are parsed here), and the exit
// codes are those of --help and docs/reference.md: 0 ok, 1 problems found or
// refused, 2 usage. Through the built file.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { CACHE_KIND, CACHE_VERSION, type CacheRecord, writeCache } from "../lib/cache.ts";
import { startApiServer } from "./helpers/apiserver.ts";
import { matchesDocs } from "./helpers/json-docs.ts";
import { tempDir } from "./helpers/netns.ts";
import { ROOT, runPlugin } from "./helpers/run-plugin.ts";

const human = (argv: string[]) => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });

const bridge = { cniVersion: "1.0.0", name: "cbr0", type: "bridge", ipam: { type: "host-local", subnet: "10.244.0.0/24" } };

/** A node with a cluster network (bridge) and its plugins. */
function node(t: Test) {
  const root = tempDir(t);
  const binDir = join(root, "bin");
  const confDir = join(root, "net.d");
  const cniDir = join(root, "cache");
  mkdirSync(binDir);
  mkdirSync(confDir);
  mkdirSync(cniDir);
  for (const p of ["bridge", "host-local"]) symlinkSync(`/usr/lib/cni/${p}`, join(binDir, p));
  writeFileSync(join(confDir, "10-bridge.conf"), JSON.stringify(bridge));
  return { root, binDir, confDir, cniDir, dirs: ["--bin-dir", binDir, "--conf-dir", confDir] };
}

t.test("install --json, with and without --dry-run: the documented fields, the conf's content as written", async (t) => {
  const n = node(t);
  const dry = await human(["install", ...n.dirs, "--dry-run", "--json"]);
  t.equal(dry.code, 0, dry.stderr);
  const d = JSON.parse(dry.stdout);
  matchesDocs(t, "install", d);
  t.match(d, { ok: true, dryRun: true, bin: { path: join(n.binDir, "multus"), action: "copy" }, conf: { action: "write" } });
  t.equal(d.conf.delegatesTo, join(n.confDir, "10-bridge.conf"));
  const real = await human(["install", ...n.dirs, "--json"]);
  t.equal(real.code, 0, real.stderr);
  const r = JSON.parse(real.stdout);
  matchesDocs(t, "install", r);
  t.same(r.conf.content, JSON.parse(readFileSync(join(n.confDir, "00-multus.conf"), "utf8")), "content is the file written");
  t.same(r.conf.content, d.conf.content, "and what --dry-run said it would write");
  const again = JSON.parse((await human(["install", ...n.dirs, "--json"])).stdout);
  t.match(again, { dryRun: false, bin: { action: "unchanged" }, conf: { action: "unchanged" } });
});

t.test("status --json: the documented fields, for attached, incomplete and corrupt records", async (t) => {
  const n = node(t);
  const record = (containerId: string, complete: boolean): CacheRecord => ({
    kind: CACHE_KIND,
    version: CACHE_VERSION,
    containerId,
    netns: "/var/run/netns/mtns-json",
    ifName: "eth0",
    cniArgs: "",
    cniVersion: "1.0.0",
    complete,
    attachments: [
      { network: "cbr0", ifName: "eth0", isClusterNetwork: true, config: { type: "bridge" }, cniArgs: "" },
      {
        network: "macvlan-conf",
        statusName: "ns1/macvlan-conf",
        ifName: "net1",
        isClusterNetwork: false,
        config: { type: "macvlan" },
        cniArgs: "",
      },
    ],
  });
  const empty = await human(["status", "--cni-dir", n.cniDir, "--json"]);
  t.equal(empty.code, 0);
  t.same(JSON.parse(empty.stdout), { ok: true, cniDir: n.cniDir, containers: [] });
  writeCache(n.cniDir, record("aaa", true));
  writeCache(n.cniDir, record("bbb", false));
  writeFileSync(join(n.cniDir, "ccc"), "{not json", { mode: 0o600 });
  const text = await human(["status", "--cni-dir", n.cniDir]);
  const r = await human(["status", "--cni-dir", n.cniDir, "--json"]);
  t.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  matchesDocs(t, "status", out);
  t.same(
    out.containers.map((c: { containerID: string; state: string }) => [c.containerID, c.state]),
    [
      ["aaa", "attached"],
      ["bbb", "incomplete"],
      ["ccc", "corrupt"],
    ],
  );
  t.same(out.containers[0].interfaces, [
    { ifName: "eth0", network: "cbr0" },
    { ifName: "net1", network: "ns1/macvlan-conf" },
  ]);
  for (const c of out.containers) t.ok(text.stdout.includes(c.containerID), `the text output lists ${c.containerID} too`);
});

t.test("validate --json: every problem with file, line, column; ok, counts and exit code as without it", async (t) => {
  const n = node(t);
  const bad = join(n.root, "bad.conf");
  writeFileSync(
    bad,
    '{\n  "cniVersion": "1.0.0",\n  "name": "m",\n  "type": "multus",\n  "delegates": [{"type": "../sh"}],\n  "colour": 1\n}\n',
  );
  const r = await human(["validate", "--json", bad, join(n.confDir, "10-bridge.conf")]);
  t.equal(r.code, 1, r.stdout);
  const out = JSON.parse(r.stdout);
  matchesDocs(t, "validate", out);
  t.match(out, { ok: false, files: 2, errors: 1, warnings: 2 });
  t.match(out.problems, [
    { file: bad, line: 5, column: 26, severity: "error", path: "delegates[0].type" },
    { file: bad, line: 6, column: 13, severity: "warning", path: "colour" },
    { file: bad, line: 5, column: 17, severity: "warning", path: "delegates[0].name" },
  ]);
  const good = await human(["validate", "--json", join(n.confDir, "10-bridge.conf")]);
  t.equal(good.code, 0);
  t.same(JSON.parse(good.stdout), { ok: true, files: 1, errors: 0, warnings: 0, problems: [] });
});

t.test("doctor --json: the documented fields; a failing check makes ok false and exit code 1", async (t) => {
  const n = node(t);
  t.equal((await human(["install", ...n.dirs])).code, 0);
  const conf = JSON.parse(readFileSync(join(n.confDir, "00-multus.conf"), "utf8"));
  writeFileSync(join(n.confDir, "00-multus.conf"), JSON.stringify({ ...conf, cniDir: n.cniDir }));
  const good = await human(["doctor", ...n.dirs, "--json"]);
  t.equal(good.code, 0, good.stdout);
  const g = JSON.parse(good.stdout);
  matchesDocs(t, "doctor", g);
  t.equal(g.ok, true);
  t.ok(
    g.checks.some((c: { area: string; level: string }) => c.area === "conf dir" && c.level === "ok"),
    "the conf dir check",
  );
  writeFileSync(
    join(n.confDir, "00-multus.conf"),
    JSON.stringify({ ...conf, cniDir: n.cniDir, delegates: [conf.delegates[0], { name: "x", type: "macvlan" }] }),
  );
  const bad = await human(["doctor", ...n.dirs, "--json"]);
  t.equal(bad.code, 1);
  const b = JSON.parse(bad.stdout);
  matchesDocs(t, "doctor", b);
  t.match(b, { ok: false });
  t.match(
    b.checks.find((c: { level: string }) => c.level === "fail"),
    { area: "bin dir", message: `plugin "macvlan" is not in ${n.binDir}`, fix: /install the "macvlan" CNI plugin/ },
  );
});

t.test("doctor --json against an API server that repeats the token: scrubbed, still JSON", async (t) => {
  const api = await startApiServer();
  t.teardown(() => api.stop());
  const n = node(t);
  const kc = api.writeKubeconfig(n.root, { auth: "token" });
  t.equal((await human(["install", ...n.dirs, "--kubeconfig", kc])).code, 0);
  api.echoCredentials(true);
  api.forbid("/apis/apiextensions.k8s.io/");
  const r = await human(["doctor", ...n.dirs, "--json"]);
  t.notOk(r.stdout.includes(api.token), "the token is not printed");
  const out = JSON.parse(r.stdout);
  matchesDocs(t, "doctor", out);
  t.match(
    out.checks.find((c: { area: string }) => c.area === "crd"),
    { level: "fail", message: /403 Forbidden.*\[redacted\]/ },
  );
});

t.test("exit codes: 0 ok, 1 a problem or a refusal, 2 a usage mistake; with --json a failure is {ok: false, error}", async (t) => {
  const n = node(t);
  const cases: [string[], number][] = [
    [["status", "--cni-dir", n.cniDir], 0],
    [["status", "--cni-dir"], 2],
    [["status", "--color"], 2],
    [["validate"], 2],
    [["validate", join(n.root, "missing.conf")], 1],
    [["doctor", "--conf-dir", n.confDir, "--bin-dir", n.binDir, "extra"], 2],
    [["doctor", "--conf-dir", join(n.root, "none"), "--bin-dir", n.binDir], 1],
    [["install", ...n.dirs, "--cleanup-on-exit"], 2],
    [["install", ...n.dirs, "--rescan-interval", "5"], 2],
    [["install", ...n.dirs, "--log-level", "loud"], 2],
    [["install", ...n.dirs, "--conf-name", "x.txt"], 2],
    [["install", ...n.dirs, "--watch", "--json"], 2],
    [["install", ...n.dirs, "--readiness-timeout", "3"], 2],
    [["install", ...n.dirs, "--readiness-indicator-file", join(n.root, "r"), "--readiness-timeout", "soon"], 2],
    [["install", ...n.dirs, "--kubeconfig", join(n.root, "none.kubeconfig")], 1],
    [["uninstall", ...n.dirs, "--kubeconfig", "/x"], 2],
    [["frobnicate"], 2],
  ];
  for (const [argv, code] of cases) {
    const r = await human(argv);
    t.equal(r.code, code, `${argv.join(" ")}: ${r.stderr}`);
  }
  for (const argv of [
    ["install", ...n.dirs, "--kubeconfig", join(n.root, "none.kubeconfig"), "--json"],
    ["install", ...n.dirs, "--log-level", "loud", "--json"],
    ["status", "--json", "extra"],
  ]) {
    const r = await human(argv);
    const out = JSON.parse(r.stdout);
    t.same(Object.keys(out), ["ok", "error"], argv.join(" "));
    t.equal(out.ok, false);
    t.equal(`multus ${argv[0]}: ${out.error}\n`, r.stderr, "the message, as stderr says it");
  }
  const help = await human(["--help"]);
  t.match(help.stdout, /Exit codes: 0 done, nothing wrong; 1 a problem found .*; 2 a usage mistake/s);
  const doc = readFileSync(join(ROOT, "docs/reference.md"), "utf8");
  t.match(doc, /\| 2 \| a usage mistake/, "docs/reference.md has the same codes");
});
