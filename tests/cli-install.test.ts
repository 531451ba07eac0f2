// `multus install`, `uninstall` and `status`, through the built file, in temp dirs.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { makeNetns, tempDir } from "./helpers/netns.ts";
import { PLUGIN, runPlugin } from "./helpers/run-plugin.ts";
import { scenario } from "./helpers/scenario.ts";

const human = (argv: string[]) => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });

function node(t: Parameters<typeof tempDir>[0]) {
  const root = tempDir(t);
  const binDir = join(root, "bin");
  const confDir = join(root, "net.d");
  mkdirSync(confDir);
  const flannel = { cniVersion: "0.4.0", name: "cbr0", plugins: [{ type: "flannel", delegate: { isDefaultGateway: true } }, { type: "portmap", capabilities: { portMappings: true } }] };
  writeFileSync(join(confDir, "10-flannel.conflist"), JSON.stringify(flannel));
  writeFileSync(join(confDir, "99-loopback.conf"), JSON.stringify({ cniVersion: "0.4.0", name: "lo", type: "loopback" }));
  return { root, binDir, confDir, flannel };
}

t.test("install copies the file and writes 00-multus.conf delegating to the first config; again changes nothing", async (t) => {
  const n = node(t);
  const args = ["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir];
  const r = await human(args);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, new RegExp(`installed ${n.binDir}/multus`));
  t.match(r.stdout, /wrote .*00-multus.conf \(delegates to 10-flannel.conflist\)/);
  t.ok(readFileSync(join(n.binDir, "multus")).equals(readFileSync(PLUGIN)), "the very same file");
  t.equal(statSync(join(n.binDir, "multus")).mode & 0o777, 0o755);
  const conf = JSON.parse(readFileSync(join(n.confDir, "00-multus.conf"), "utf8"));
  t.match(conf, { cniVersion: "0.4.0", name: "multus-cni-network", type: "multus", capabilities: { portMappings: true } });
  t.same(conf.delegates, [n.flannel]);
  t.notOk("kubeconfig" in conf);

  const again = await human(args);
  t.equal(again.code, 0);
  t.match(again.stdout, /multus: unchanged\n.*00-multus.conf: unchanged/);

  const installed = await runPlugin({ bin: join(n.binDir, "multus"), command: "VERSION", stdin: "" });
  t.equal(installed.code, 0, "the installed copy runs");
});

t.test("install --kubeconfig writes Kubernetes mode; --dry-run writes nothing", async (t) => {
  const n = node(t);
  const kc = join(n.root, "multus.kubeconfig");
  writeFileSync(kc, "apiVersion: v1\nkind: Config\n");
  const dry = await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--kubeconfig", kc, "--dry-run"]);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /would copy .* to .*\/bin\/multus/);
  t.match(dry.stdout, /"kubeconfig": ".*multus.kubeconfig"/);
  t.notOk(existsSync(join(n.confDir, "00-multus.conf")));
  t.notOk(existsSync(n.binDir));
  const r = await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--kubeconfig", kc]);
  t.equal(r.code, 0, r.stderr);
  t.equal(JSON.parse(readFileSync(join(n.confDir, "00-multus.conf"), "utf8")).kubeconfig, kc);
  t.match(r.stdout, /Kubernetes mode/);
});

t.test("install never replaces a file it did not write without --force", async (t) => {
  const n = node(t);
  writeFileSync(join(n.confDir, "00-multus.conf"), JSON.stringify({ name: "hand-made", type: "multus", delegates: [] }));
  const r = await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(r.code, 1);
  t.match(r.stderr, /00-multus.conf exists and was not written by multus install; use --force/);
  t.match(readFileSync(join(n.confDir, "00-multus.conf"), "utf8"), /hand-made/);
  const forced = await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir, "--force"]);
  t.equal(forced.code, 0, forced.stderr);
});

t.test("install without any network config says what to do", async (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, "empty"));
  const r = await human(["install", "--bin-dir", join(root, "bin"), "--conf-dir", join(root, "empty")]);
  t.equal(r.code, 1);
  t.match(r.stderr, /no network config .* to delegate to: install the cluster network first/);
});

t.test("uninstall reverses install, and refuses foreign files", async (t) => {
  const n = node(t);
  t.equal((await human(["install", "--bin-dir", n.binDir, "--conf-dir", n.confDir])).code, 0);
  const r = await human(["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(r.code, 0, r.stderr);
  t.notOk(existsSync(join(n.confDir, "00-multus.conf")));
  t.notOk(existsSync(join(n.binDir, "multus")));
  t.ok(existsSync(join(n.confDir, "10-flannel.conflist")), "the delegated config stays");
  const again = await human(["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(again.code, 0);
  t.match(again.stdout, /not present/);
  mkdirSync(n.binDir, { recursive: true });
  writeFileSync(join(n.binDir, "multus"), "#!/bin/sh\necho other\n");
  const foreign = await human(["uninstall", "--bin-dir", n.binDir, "--conf-dir", n.confDir]);
  t.equal(foreign.code, 1);
  t.match(foreign.stderr, /is not this program; use --force/);
});

t.test("status lists cached attachments", async (t) => {
  const s = scenario(t);
  const ns = makeNetns(t);
  const call = { containerId: "status-1", netns: ns.path, stdin: s.netconf([s.bridge(), s.ptp()]) };
  t.equal((await runPlugin({ ...call, command: "ADD" })).code, 0);
  const r = await human(["status", "--cni-dir", s.cniDir]);
  t.equal(r.code, 0);
  t.match(r.stdout, /^CONTAINER\s+STATE\s+NETNS\s+INTERFACES\n/);
  t.match(r.stdout, new RegExp(`status-1\\s+attached\\s+${ns.path}\\s+eth0=br-net net1=ptp-net`));
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
  t.match((await human(["status", "--cni-dir", s.cniDir])).stdout, /no cached attachments/);
});

t.test("every command has --help", async (t) => {
  for (const cmd of ["install", "uninstall", "status", "version"]) {
    const r = await human([cmd, "--help"]);
    t.equal(r.code, 0, cmd);
    t.match(r.stdout, new RegExp(`^usage: multus ${cmd}`));
  }
});
