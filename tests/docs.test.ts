// The documentation: the troubleshooting table is generated from the source
// and must be current; every relative link in README.md and docs/ resolves;
// the README's quickstarts run, command by command, on a scratch node root.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import t, { type Test } from "tap";
import { startApiServer } from "./helpers/apiserver.ts";
import { tempDir } from "./helpers/netns.ts";
import { unavailable } from "./helpers/prerequisite.ts";
import { ROOT } from "./helpers/run-plugin.ts";

t.test("docs/reference.md's troubleshooting table lists every error message in lib/", async (t) => {
  t.doesNotThrow(() => execFileSync(process.execPath, [join(ROOT, "scripts/errors-doc.mjs"), "--check"], { stdio: "pipe" }));
});

const pages = ["README.md", "manifests/README.md", ...readdirSync(join(ROOT, "docs")).map((f) => `docs/${f}`)];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");

t.test("every relative link in README.md and docs/ points at a file (and heading) that exists", async (t) => {
  for (const page of pages) {
    const text = readFileSync(join(ROOT, page), "utf8");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // http:, mailto: ...
      const [file, hash] = target.split("#");
      const path = file ? join(ROOT, dirname(page), file) : join(ROOT, page);
      t.ok(existsSync(path), `${page}: ${target} exists`);
      if (hash && existsSync(path)) {
        const headings = [...readFileSync(path, "utf8").matchAll(/^#+ (.*)$/gm)].map((m) => anchor(m[1]));
        t.ok(headings.includes(hash), `${page}: ${target} names a heading`);
      }
    }
  }
});

t.test("every test the docs cite by file and name exists, so a renamed or dropped test is noticed", async (t) => {
  const squash = (x: string) => x.replace(/\s+/g, " ");
  let cited = 0;
  for (const page of pages) {
    const text = readFileSync(join(ROOT, page), "utf8");
    for (const [, file, name] of text.matchAll(/`(tests\/[\w./-]+\.test\.ts)`\s+"([^"]+)"/g)) {
      cited++;
      const path = join(ROOT, file);
      if (!t.ok(existsSync(path), `${page}: ${file} exists`)) continue;
      // A citation may stop at " ..." where the test's name goes on.
      const prefix = squash(name).replace(/\s*(\.\.\.|…)$/, "");
      t.ok(squash(readFileSync(path, "utf8")).includes(prefix), `${page}: ${file} has a test named "${prefix}"`);
    }
  }
  t.ok(cited >= 5, `${cited} citations checked`);
});

t.test("the front page links every page of docs/", async (t) => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  for (const f of readdirSync(join(ROOT, "docs"))) t.ok(readme.includes(`(docs/${f})`), `README.md links docs/${f}`);
});

t.test("README.md and manifests/ agree on what the executable links: the C library, no C++ runtime", async (t) => {
  for (const page of ["README.md", "manifests/README.md", "manifests/Dockerfile"]) {
    const text = readFileSync(join(ROOT, page), "utf8");
    t.notMatch(text, /C\/C\+\+ runtime|C and C\+\+ runtime/, `${page} does not say it needs the C++ runtime`);
  }
  t.match(readFileSync(join(ROOT, "manifests/README.md"), "utf8"), /no C\+\+ runtime/);
});

t.test("the front page links log files and rotation, and the command-line reference", async (t) => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  t.ok(readme.includes("(docs/operations.md#log-files-and-rotation)"));
  t.ok(readme.includes("(docs/reference.md#command-line-interface)"));
});

/** The shell blocks of the README section `heading`. */
function shellBlocks(heading: string): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "${heading}"`);
  const end = readme.indexOf("\n## ", start + 1);
  return [...readme.slice(start, end).matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
}

/**
 * What the suite cannot run as written, line for line, and what it runs
 * instead; every other line runs as it is. A line changed in the README no
 * longer matches here, so it runs as written (and kubectl or scp are not
 * there): the suite says so.
 */
const INSTEAD: Record<string, string | undefined> = {
  // undefined: not run, for the reason given.
  "npm ci && npm run build                  # dist/multus: one self-contained executable": undefined, // the suite runs on the built file
  "npm ci && npm run build": undefined,
  "scp dist/multus edge-node:/tmp/multus    # dist/multus-arm64 for an arm64 node": "cp dist/multus /tmp/multus # this machine is the node",
  // The cluster: the in-repo API server (it has the CRD; RBAC is tests/rbac.test.ts's).
  "kubectl apply -f manifests/crd-network-attachment-definition.yaml -f manifests/rbac.yaml": undefined,
  "kubectl -n kube-system create token multus --duration=8760h > /etc/cni/net.d/multus.d/token":
    'printf %s "$QUICKSTART_TOKEN" > /etc/cni/net.d/multus.d/token',
  "server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')": 'server="$QUICKSTART_SERVER"',
  // Pods need a kubelet.
  "kubectl apply -f manifests/examples/bridge-ptp-macvlan.yaml": undefined,
  "kubectl get pods -o jsonpath='{.items[*].metadata.annotations.k8s\\.v1\\.cni\\.cncf\\.io/network-status}'": undefined,
};

function script(t: Test, blocks: string[], used: Set<string>): string {
  const lines = ["set -euo pipefail"];
  for (const line of blocks.join("\n").split("\n")) {
    if (Object.hasOwn(INSTEAD, line)) {
      used.add(line);
      const instead = INSTEAD[line];
      if (instead !== undefined) lines.push(instead);
    } else lines.push(line);
  }
  t.ok(lines.length > 3, "the quickstart has commands");
  return lines.join("\n");
}

/**
 * Run `body` as root in a mount namespace of its own where /etc and /opt are
 * overlays (what it writes there stays in `scratch`) and /tmp is empty: the
 * node as the quickstart finds it, with a cluster network (bridge) and its
 * plugins, and the kubeadm CA at /etc/kubernetes/pki/ca.crt.
 */
function onScratchNode(scratch: string, body: string, env: Record<string, string>, ca: string) {
  const setup = [
    "set -euo pipefail",
    `S=${JSON.stringify(scratch)}`,
    'for d in etc opt; do mkdir -p "$S/$d/up" "$S/$d/work"; mount -t overlay overlay -o "lowerdir=/$d,upperdir=$S/$d/up,workdir=$S/$d/work" "/$d"; done',
    "mkdir -p /etc/cni/net.d /opt/cni/bin /etc/kubernetes/pki",
    'cp "$S/ca.crt" /etc/kubernetes/pki/ca.crt',
    "for p in bridge host-local loopback portmap ptp macvlan; do cp /usr/lib/cni/$p /opt/cni/bin/; done",
    `cat > /etc/cni/net.d/10-bridge.conflist <<'EOF'
{"cniVersion": "1.0.0", "name": "cbr0", "plugins": [{"type": "bridge", "bridge": "mtqs0", "ipam": {"type": "host-local", "subnet": "10.231.0.0/24"}}, {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOF`,
    // An empty /tmp; the checkout (under /tmp in a CI clone) stays where it is, through /mnt.
    `R=${JSON.stringify(ROOT)}`,
    'mount --bind "$R" /mnt',
    "mount -t tmpfs tmpfs /tmp",
    'mkdir -p "$R" && mount --move /mnt "$R"',
    'cd "$R"',
    'exec bash -c "$QUICKSTART"',
  ].join("\n");
  writeFileSync(join(scratch, "ca.crt"), ca);
  // Not spawnSync: the API server answering the quickstart's doctor runs in this process.
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn("unshare", ["--mount", "--propagation", "private", "bash", "-c", setup], {
      env: { PATH: process.env.PATH, HOME: scratch, QUICKSTART: body, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b));
    child.stderr.on("data", (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

t.test("the README's quickstarts run as written on a scratch node: a command that does not work fails here", async (t) => {
  if (spawnSync("unshare", ["--mount", "true"]).status !== 0) return unavailable("unshare --mount (util-linux, root) runs the quickstarts");
  const api = await startApiServer();
  t.teardown(() => api.stop());
  const used = new Set<string>();
  for (const heading of ["Quickstart: an air-gapped edge node", "Quickstart: a single-node kubeadm cluster"]) {
    const scratch = tempDir(t);
    const body = script(t, shellBlocks(heading), used);
    const r = await onScratchNode(scratch, body, { QUICKSTART_TOKEN: api.token, QUICKSTART_SERVER: api.url }, api.caPem);
    t.equal(r.status, 0, `${heading}:\n${body}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
    t.match(r.stdout, /^ok {4}conf dir: \/etc\/cni\/net\.d\/00-multus\.conf comes first and is multus$/m, `${heading}: doctor ran`);
    if (heading.includes("kubeadm")) t.match(r.stdout, /^ok {4}rbac: may patch pods\/status$/m, "doctor checked the API");
    t.ok(
      existsSync(join(scratch, "opt/up/cni/bin/multus")),
      `${heading}: installed into the node's /opt/cni/bin (kept in the scratch dir)`,
    );
  }
  for (const line of Object.keys(INSTEAD)) t.ok(used.has(line), `still in a quickstart: ${line}`);
});

t.test("a kubeconfig that cannot be read is in the troubleshooting table, with what to do", async (t) => {
  const ref = readFileSync(join(ROOT, "docs/reference.md"), "utf8");
  t.match(
    ref,
    /^\| 7 \| `cannot load kubeconfig: …` \| lib\/k8s\/kubeconfig\.ts \| The netconf's `kubeconfig` .*must name a readable kubeconfig/m,
  );
});
