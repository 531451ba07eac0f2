// Kubeconfig files as client-go reads them: every form of `server`, the
// files a kubeconfig names, and exec credential plugins, against the in-repo
// HTTPS API server through the plugin's own client (lib/k8s/client.ts).
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { ErrorCode } from "../lib/cni/errors.ts";
import { createKubeClient } from "../lib/k8s/client.ts";
import { loadCredentials } from "../lib/k8s/kubeconfig.ts";
import { parseServer } from "../lib/k8s/server-url.ts";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { tempDir } from "./helpers/netns.ts";
import { ROOT } from "./helpers/run-plugin.ts";

const UPSTREAM_KUBECONFIG = join(ROOT, "tests", "fixtures", "upstream", "multus.kubeconfig");

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
  api.putPod({ metadata: { namespace: "ns1", name: "pod1" } });
});
t.teardown(() => api.stop());

t.test("server: every form client-go accepts, read as client-go reads it", async (t) => {
  // [server, TLS configured, origin, address dialled, path prefix]
  const accepted: [string, boolean, string, string, string][] = [
    ["https://10.96.0.1:443", true, "https://10.96.0.1", "10.96.0.1", ""],
    ["https://[10.96.0.1]:443", true, "https://10.96.0.1", "10.96.0.1", ""],
    ["https://[2001:db8::1]:6443", true, "https://[2001:db8::1]:6443", "2001:db8::1", ""],
    ["https://[fe80::1%25eth0]:6443", true, "https://[fe80::1]:6443", "fe80::1%eth0", ""],
    ["https://[api.example]:6443", true, "https://api.example:6443", "api.example", ""],
    ["https://api.example", true, "https://api.example", "api.example", ""],
    ["HTTPS://API.Example:6443/", true, "https://api.example:6443", "api.example", ""],
    ["https://api.example:6443/proxy/k8s/", true, "https://api.example:6443", "api.example", "/proxy/k8s"],
    ["https://api.example:6443?x=1#y", true, "https://api.example:6443", "api.example", ""],
    ["https://user:secret@api.example:6443", true, "https://api.example:6443", "api.example", ""],
    ["http://127.0.0.1:8080", false, "http://127.0.0.1:8080", "127.0.0.1", ""],
    ["10.96.0.1:443", true, "https://10.96.0.1", "10.96.0.1", ""],
    ["10.96.0.1:6443", false, "http://10.96.0.1:6443", "10.96.0.1", ""],
    ["api.example:6443", true, "https://api.example:6443", "api.example", ""],
    ["api.example", true, "https://api.example", "api.example", ""],
    ["api.example:6443/", true, "https://api.example:6443", "api.example", ""],
    ["[2001:db8::1]:6443", true, "https://[2001:db8::1]:6443", "2001:db8::1", ""],
    ["[10.96.0.1]:443", true, "https://10.96.0.1", "10.96.0.1", ""],
  ];
  for (const [server, tls, origin, dialHost, basePath] of accepted) {
    t.same(parseServer(server, tls), { origin, dialHost, basePath }, server);
  }
  const refused: [string, RegExp][] = [
    ["", /is empty/],
    ["api.example:6443/prefix", /is not a URL or a host:port pair/],
    ["ftp://api.example", /scheme "ftp": only https and http/],
    ["https://api.example:70000", /port 70000, which is out of range/],
    ["https://[]:443", /invalid host in brackets/],
    ["https://user:secret@exa mple:1", /invalid host/],
  ];
  for (const [server, msg] of refused) {
    t.throws(() => parseServer(server, true), { code: 7, message: msg }, JSON.stringify(server));
  }
  t.throws(() => parseServer("https://user:secret@exa mple:1", true), { message: /^(?!.*secret)/ }, "no password in the message");
});

t.test("upstream Multus' kubeconfig (server https://[10.96.0.1]:443) loads and names the address to dial", async (t) => {
  const creds = await loadCredentials(UPSTREAM_KUBECONFIG);
  t.equal(creds.server, "https://[10.96.0.1]:443");
  t.match(creds.headers.authorization, /^Bearer eyJ/);
  t.same(parseServer(creds.server, creds.ca !== undefined), { origin: "https://10.96.0.1", dialHost: "10.96.0.1", basePath: "" });
});

t.test("the client reaches the server through each form of its address", async (t) => {
  const dir = tempDir(t);
  const port = api.port;
  const forms = [
    `https://[127.0.0.1]:${port}`,
    `127.0.0.1:${port}`,
    `localhost:${port}`,
    `https://localhost:${port}/`,
    `https://[::1]:${port}`,
    `[::1]:${port}`,
    `https://[::1%25lo]:${port}`,
  ];
  for (const [i, server] of forms.entries()) {
    const kubeconfig = api.writeKubeconfig(dir, { auth: "token", server, fileName: `form-${i}.yaml` });
    const client = await createKubeClient({ kubeconfig, deadlineMs: 3000, maxAttempts: 1 });
    try {
      const pod = await client.get("/api/v1/namespaces/ns1/pods/pod1", "get pod");
      t.equal((pod.metadata as { name: string }).name, "pod1", server);
    } finally {
      await client.close();
    }
  }
  // A path prefix (a proxy in front of the API server) goes before every request path.
  const kubeconfig = api.writeKubeconfig(dir, { auth: "token", server: `${api.url}/prefix/`, fileName: "prefix.yaml" });
  const client = await createKubeClient({ kubeconfig, deadlineMs: 3000, maxAttempts: 1 });
  api.clearRequests();
  await t.rejects(client.get("/api/v1/namespaces/ns1/pods/pod1", "get pod"), { message: /404/ });
  await client.close();
  t.same(
    api.requests().map((r) => r.path),
    ["/prefix/api/v1/namespaces/ns1/pods/pod1"],
  );
});

/** A kubeconfig whose user is the exec plugin `exec` (YAML flow map), beside `dir`'s other files. */
function execKubeconfig(dir: string, name: string, exec: string): string {
  const file = join(dir, `${name}.yaml`);
  const base = readFileSync(api.writeKubeconfig(dir, { auth: "token", fileName: `${name}-base.yaml` }), "utf8");
  writeFileSync(file, base.replace(/\{token: "[^"]*"\}/, `{exec: ${exec}}`));
  return file;
}

function script(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

const credential = (apiVersion: string, token: string) =>
  JSON.stringify({ apiVersion, kind: "ExecCredential", status: { token } }).replaceAll('"', '\\"');

/** Is any process of group `pgid` still there 2 s from now (time for the killed to be reaped)? */
async function groupAlive(pgid: number): Promise<boolean> {
  for (const end = Date.now() + 2000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return false;
    }
  }
  return true;
}

t.test("exec credential plugins: the ExecCredential protocol (v1 and v1beta1, args, env, KUBERNETES_EXEC_INFO)", async (t) => {
  const dir = tempDir(t);
  const seen = join(dir, "seen.json");
  const plugin = script(
    dir,
    "mt-cred",
    `printf '{"args":"%s","extra":"%s","info":%s}' "$*" "$MT_EXTRA" "$KUBERNETES_EXEC_INFO" > "${seen}"
echo "{\\"apiVersion\\":\\"$1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"${api.token}\\"}}"`,
  );
  const get = async (kubeconfig: string) => {
    const client = await createKubeClient({ kubeconfig, deadlineMs: 5000, maxAttempts: 1 });
    try {
      return await client.get("/api/v1/namespaces/ns1/pods/pod1", "get pod");
    } finally {
      await client.close();
    }
  };
  const v1 = "client.authentication.k8s.io/v1";
  const kc1 = execKubeconfig(
    dir,
    "v1",
    `{apiVersion: ${v1}, command: ./mt-cred, args: [${v1}, two], env: [{name: MT_EXTRA, value: "x y"}], interactiveMode: Never}`,
  );
  t.equal(
    ((await get(kc1)).metadata as { name: string }).name,
    "pod1",
    "the token from the plugin is used (command relative to the kubeconfig)",
  );
  t.same(JSON.parse(readFileSync(seen, "utf8")), {
    args: `${v1} two`,
    extra: "x y",
    info: { apiVersion: v1, kind: "ExecCredential", spec: { interactive: false } },
  });
  const beta = "client.authentication.k8s.io/v1beta1";
  process.env.PATH = `${dir}:${process.env.PATH}`;
  t.teardown(() => {
    process.env.PATH = process.env.PATH?.replace(`${dir}:`, "");
  });
  const kc2 = execKubeconfig(dir, "beta", `{apiVersion: ${beta}, command: mt-cred, args: [${beta}], provideClusterInfo: true}`);
  await get(kc2);
  const info = JSON.parse(readFileSync(seen, "utf8")).info;
  t.match(
    info,
    { apiVersion: beta, spec: { interactive: false, cluster: { server: api.url, "certificate-authority-data": String } } },
    "v1beta1, found in PATH, with the cluster",
  );
});

t.test("exec credential plugins: refused configurations and answers, without quoting what the plugin printed", async (t) => {
  const dir = tempDir(t);
  const v1 = "client.authentication.k8s.io/v1";
  const cases: [string, string, RegExp][] = [
    ["no-mode", `{apiVersion: ${v1}, command: /bin/true}`, /has no interactiveMode, which client.authentication.k8s.io\/v1 requires/],
    [
      "always",
      `{apiVersion: ${v1}, command: /bin/true, interactiveMode: Always}`,
      /interactiveMode Always, but a CNI plugin has no terminal/,
    ],
    [
      "old",
      `{apiVersion: client.authentication.k8s.io/v1alpha1, command: /bin/true}`,
      /apiVersion "client.authentication.k8s.io\/v1alpha1": supported are/,
    ],
    ["missing", `{apiVersion: ${v1}, command: mt-no-such-plugin, interactiveMode: Never}`, /"mt-no-such-plugin" is not found in PATH/],
    [
      "wrong-version",
      `{apiVersion: ${v1}, command: ${script(dir, "mt-beta", `echo "${credential("client.authentication.k8s.io/v1beta1", "Zq8TokenNotToBeQuoted1234")}"`)}, interactiveMode: Never}`,
      /answered "client.authentication.k8s.io\/v1beta1" to a request for client.authentication.k8s.io\/v1/,
    ],
    [
      "not-json",
      `{apiVersion: ${v1}, command: ${script(dir, "mt-garbage", "echo Zq8TokenNotToBeQuoted1234")}, interactiveMode: Never}`,
      /printed no ExecCredential JSON$/,
    ],
  ];
  for (const [name, exec, msg] of cases) {
    const err = await createKubeClient({ kubeconfig: execKubeconfig(dir, name, exec) }).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    t.match(err, { code: ErrorCode.ApiFailure, message: msg }, name);
    t.notMatch(err?.message, /Zq8TokenNotToBeQuoted1234/, `${name}: what it printed is not quoted`);
  }
});

t.test(
  "exec credential plugins are bounded: a hanging one is killed with its children at the deadline; endless output is cut",
  async (t) => {
    const dir = tempDir(t);
    const pidFile = join(dir, "pid");
    // It and a child of its own hang; the child ignores SIGTERM.
    const hang = script(dir, "mt-hang", `echo $$ > "${pidFile}"\n(trap '' TERM; sleep 1000) &\nsleep 1000`);
    const v1 = "client.authentication.k8s.io/v1";
    const kc = execKubeconfig(dir, "hang", `{apiVersion: ${v1}, command: ${hang}, interactiveMode: Never}`);
    const started = Date.now();
    const err = await createKubeClient({ kubeconfig: kc, deadlineMs: 1000 }).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    t.match(err, { code: ErrorCode.TryAgainLater, message: /"\/.*mt-hang" did not finish within 1s and was killed/ });
    t.ok(Date.now() - started < 10_000, "it returns at its bound (not when the plugin would end)");
    const pgid = Number(readFileSync(pidFile, "utf8"));
    t.notOk(await groupAlive(pgid), "its process group is gone, the child included");

    const endless = script(dir, "mt-endless", "exec cat /dev/zero");
    const kc2 = execKubeconfig(dir, "endless", `{apiVersion: ${v1}, command: ${endless}, interactiveMode: Never}`);
    const err2 = await createKubeClient({ kubeconfig: kc2, deadlineMs: 60_000 }).then(
      () => undefined,
      (e: Error) => e,
    );
    t.match(err2, { code: ErrorCode.ApiFailure, message: /"\/.*mt-endless" printed more than 1048576 bytes and was killed/ });
  },
);

t.test(
  "every file a kubeconfig is or names must be a bounded regular file: a FIFO, a device or a huge file is an error naming it",
  async (t) => {
    const dir = tempDir(t);
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const huge = join(dir, "huge");
    writeFileSync(huge, Buffer.alloc((4 << 20) + 1, 0x20));
    for (const [file, why] of [
      [fifo, "is a FIFO, not a regular file"],
      ["/dev/zero", "is a character device, not a regular file"],
      [huge, "is larger than 4194304 bytes"],
    ]) {
      await t.rejects(
        loadCredentials(file),
        { code: ErrorCode.InvalidNetworkConfig, message: `cannot load kubeconfig: ${file} ${why}` },
        `kubeconfig ${file}`,
      );
    }
    const base = readFileSync(api.writeKubeconfig(dir, { auth: "token", fileName: "base.yaml" }), "utf8");
    const fields: [string, (f: string) => string][] = [
      ["tokenFile", (f) => base.replace(/token: "[^"]*"/, `tokenFile: "${f}"`)],
      ["certificate-authority", (f) => base.replace(/certificate-authority-data: "[^"]*"/, `certificate-authority: "${f}"`)],
      ["client-key", (f) => base.replace(/token: "[^"]*"/, `client-key: "${f}"`)],
    ];
    for (const [field, yaml] of fields) {
      const kc = join(dir, `${field}.yaml`);
      writeFileSync(kc, yaml(fifo));
      await t.rejects(loadCredentials(kc), { code: 7, message: `kubeconfig: ${field} ${fifo} is a FIFO, not a regular file` }, field);
    }
  },
);
