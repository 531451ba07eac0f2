// Credentials never leave the process: the API token (inline, from a token
// file, from an exec plugin) and the client key are scrubbed from stdout, the
// log, pod events and network-status, even when an API server (or a proxy)
// repeats them in a 401/403 body, or a credential plugin prints them and fails.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { loadCredentials } from "../lib/k8s/kubeconfig.ts";
import { noteSecret, REDACTED, scrub, scrubUnknown } from "../lib/secrets.ts";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { makeNetns } from "./helpers/netns.ts";
import { CNI_BIN, runPlugin } from "./helpers/run-plugin.ts";
import { type Scenario, scenario } from "./helpers/scenario.ts";

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
});
t.teardown(() => api.stop());

let n = 0;
function pod(annotations: Record<string, string> = {}) {
  const name = `sec-pod-${++n}`;
  const stored = api.putPod({ metadata: { name, namespace: "ns1", annotations } });
  return {
    name,
    containerId: `sec-${n}`,
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=${name};K8S_POD_UID=${stored.metadata.uid}`,
  };
}

/** Everything the plugin wrote where others read: stdout, stderr, the log, events, the pod's annotations. */
function everything(s: Scenario, r: { stdout: string; stderr: string }): string {
  const log = join(s.dir, "multus.log");
  return [
    r.stdout,
    r.stderr,
    existsSync(log) ? readFileSync(log, "utf8") : "",
    JSON.stringify(api.events()),
    JSON.stringify([...Array(n).keys()].map((i) => api.getPod("ns1", `sec-pod-${i + 1}`)?.metadata.annotations)),
  ].join("\n");
}

const logged = (s: Scenario) => ({ logFile: join(s.dir, "multus.log"), logLevel: "debug" });

t.test("scrub(): every form of a noted credential, the longest first; short values and unknown text untouched", async (t) => {
  const token = "sEcReT-token-0123456789abcdef";
  t.equal(scrub(`x ${token} y`), `x ${token} y`, "nothing noted yet");
  noteSecret(`${token}\n`);
  t.equal(scrub(`Bearer ${token}.`), `Bearer ${REDACTED}.`);
  t.equal(scrub(JSON.stringify({ msg: `a "${token}"` })), JSON.stringify({ msg: `a "${REDACTED}"` }));
  t.equal(scrub(Buffer.from(token).toString("base64")), REDACTED, "its base64 form too");
  const key =
    "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB1ksQq2mQ3ZiF0ZyB0aGlzIGlzIGEga2V5\nAoGCCqGSM49AwEHoUQDQgAE\n-----END EC PRIVATE KEY-----\n";
  noteSecret(Buffer.from(key));
  t.equal(scrub(`key line: MHcCAQEEIB1ksQq2mQ3ZiF0ZyB0aGlzIGlzIGEga2V5`), `key line: ${REDACTED}`, "one line of a key");
  t.notMatch(scrub(`escaped: ${JSON.stringify(key)}`), /MHcCAQ/, "a JSON-escaped key");
  noteSecret("short");
  t.equal(scrub("a short word"), "a short word", "values under 8 characters are not scrubbed");
  t.equal(scrubUnknown("error: token Zx9Kq2LmN4pR7sT1vW3y expired"), `error: token ${REDACTED} expired`);
  t.equal(
    scrubUnknown("open /var/run/secrets/kubernetes.io/serviceaccount/token: permission denied"),
    "open /var/run/secrets/kubernetes.io/serviceaccount/token: permission denied",
    "paths and words stay readable",
  );
});

t.test("a client key and a token file's contents are noted as the kubeconfig is loaded", async (t) => {
  const s = scenario(t);
  const certKc = api.writeKubeconfig(s.dir, { auth: "clientCert" });
  const creds = await loadCredentials(certKc);
  const key = String(creds.key);
  t.match(key, /PRIVATE KEY/);
  t.equal(scrub(`leak: ${key}`), `leak: ${REDACTED}`);
  const tokenFile = join(s.dir, "rotating.token");
  const secret = "file-token-7f3a9c2e4b6d8f10";
  writeFileSync(tokenFile, `${secret}\n`, { mode: 0o600 });
  const kc = join(s.dir, "file.yaml");
  writeFileSync(
    kc,
    readFileSync(api.writeKubeconfig(s.dir, { auth: "token", fileName: "base.yaml" }), "utf8").replace(
      /token: "[^"]*"/,
      `tokenFile: "${tokenFile}"`,
    ),
  );
  await loadCredentials(kc);
  t.equal(scrub(`file said ${secret}`), `file said ${REDACTED}`);
});

t.test("401 and 403 bodies that repeat the Authorization header: no token in stdout, log, events or annotations", async (t) => {
  const s = scenario(t);
  api.echoCredentials(true);
  t.teardown(() => api.clearFaults());
  api.putNad("ns1", "sec-net", s.ptp({ name: "sec-net" }));
  // A token file ending in a newline, as `kubectl create token > file` writes it.
  const tokenFile = join(s.dir, "sa.token");
  writeFileSync(tokenFile, `${api.token}\n`, { mode: 0o600 });
  const viaFile = join(s.dir, "via-file.yaml");
  writeFileSync(
    viaFile,
    readFileSync(api.writeKubeconfig(s.dir, { auth: "token", fileName: "inline.yaml" }), "utf8").replace(
      /token: "[^"]*"/,
      `tokenFile: "${tokenFile}"`,
    ),
  );
  // An exec credential plugin that hands out the token, as cloud providers' plugins do.
  const cred = join(s.dir, "mt-cred-ok");
  writeFileSync(
    cred,
    `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"${api.token}"}}'\n`,
  );
  chmodSync(cred, 0o755);
  const viaExec = api.writeKubeconfig(s.dir, { auth: "exec", command: cred, fileName: "via-exec.yaml" });
  t.match(readFileSync(viaExec, "utf8"), /exec: \{apiVersion/, "the exec kubeconfig has no token of its own");
  const kubeconfigs: [string, string, string][] = [
    ["inline token", api.writeKubeconfig(s.dir, { auth: "token" }), api.token],
    ["token file", viaFile, api.token],
    ["exec plugin's token", viaExec, api.token],
    [
      "wrong token (401)",
      api.writeKubeconfig(s.dir, { auth: "token", token: "Wr0ngTokenValue-abcdef123456", fileName: "bad.yaml" }),
      "Wr0ngTokenValue-abcdef123456",
    ],
  ];
  api.forbid("/apis/k8s.cni.cncf.io/");
  for (const [what, kubeconfig, token] of kubeconfigs) {
    const ns = makeNetns(t);
    const p = pod({ "k8s.v1.cni.cncf.io/networks": "sec-net" });
    const before = api.events().length;
    const r = await runPlugin({
      command: "ADD",
      containerId: p.containerId,
      netns: ns.path,
      args: p.args,
      stdin: s.netconf([s.bridge()], { kubeconfig, ...logged(s) }),
    });
    t.equal(r.json?.code, 103, `${what}: ${r.stdout}`);
    t.match(r.json?.msg, /40[13] (Unauthorized|Forbidden)/);
    t.match(
      r.json?.msg,
      /request had "Authorization: Bearer \[redacted\]"; token \[redacted\]/,
      `${what}: the body was repeated, scrubbed`,
    );
    if (what !== "wrong token (401)") {
      t.equal(api.events().length, before + 1, `${what}: a Warning event was posted`);
      t.match(api.events().at(-1)?.message, /\[redacted\]/);
    }
    t.notOk(everything(s, r).includes(token), `${what}: the token appears nowhere`);
  }
});

t.test("network-status and the result never carry a noted credential (a delegate echoing it)", async (t) => {
  const s = scenario(t);
  const bin = join(s.dir, "bin");
  mkdirSync(bin);
  // A delegate whose result repeats the API token in its DNS search list.
  writeFileSync(
    join(bin, "mt-echo"),
    `#!/bin/sh
cat >/dev/null
[ "$CNI_COMMAND" = ADD ] && printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"address":"192.0.2.7/24","interface":0}],"dns":{"search":["${api.token}"]}}' "$CNI_IFNAME" "$CNI_NETNS"
exit 0
`,
  );
  chmodSync(join(bin, "mt-echo"), 0o755);
  const ns = makeNetns(t);
  const p = pod();
  const conf = s.netconf([{ cniVersion: "1.0.0", name: "echo-net", type: "mt-echo" }], {
    kubeconfig: api.writeKubeconfig(s.dir, { auth: "token" }),
    ...logged(s),
  });
  const call = { containerId: p.containerId, netns: ns.path, args: p.args, path: `${CNI_BIN}:${bin}`, stdin: conf };
  const r = await runPlugin({ ...call, command: "ADD" });
  t.equal(r.code, 0, r.stdout);
  t.same((r.json?.dns as { search?: string[] } | undefined)?.search, [REDACTED]);
  const status = JSON.parse(api.getPod("ns1", p.name)!.metadata.annotations!["k8s.v1.cni.cncf.io/network-status"]);
  t.same(status[0].dns.search, [REDACTED]);
  t.notOk(everything(s, r).includes(api.token));
  t.equal((await runPlugin({ ...call, command: "DEL" })).code, 0);
});

t.test("an exec credential plugin that prints its token to stderr and fails: the token is not repeated", async (t) => {
  const s = scenario(t);
  const plugin = join(s.dir, "mt-cred");
  writeFileSync(plugin, `#!/bin/sh\necho "refresh failed for token ${api.token}: upstream said 500" >&2\nexit 3\n`);
  chmodSync(plugin, 0o755);
  const kc = api.writeKubeconfig(s.dir, { auth: "exec", command: plugin, fileName: "exec.yaml" });
  const ns = makeNetns(t);
  const p = pod();
  const r = await runPlugin({
    command: "ADD",
    containerId: p.containerId,
    netns: ns.path,
    args: p.args,
    stdin: s.netconf([s.bridge()], { kubeconfig: kc, ...logged(s) }),
  });
  t.equal(r.json?.code, 103, r.stdout);
  t.match(
    r.json?.msg,
    /the exec credential plugin "\/.*mt-cred" failed with exit code 3: refresh failed for token \[redacted\]: upstream said 500/,
  );
  t.notOk(everything(s, r).includes(api.token));
});

t.test("multus doctor: an API answer that repeats the token is scrubbed from what it prints", async (t) => {
  const s = scenario(t);
  const kubeconfig = api.writeKubeconfig(s.dir, { auth: "token" });
  const node = join(s.dir, "node");
  mkdirSync(join(node, "bin"), { recursive: true });
  mkdirSync(join(node, "net.d"));
  writeFileSync(join(node, "net.d", "10-bridge.conf"), JSON.stringify(s.bridge()));
  const human = (argv: string[]) => runPlugin({ argv, stdin: "", env: { CNI_IFNAME: undefined, CNI_PATH: undefined } });
  const dirs = ["--bin-dir", join(node, "bin"), "--conf-dir", join(node, "net.d")];
  t.equal((await human(["install", ...dirs, "--kubeconfig", kubeconfig])).code, 0);
  api.echoCredentials(true);
  api.forbid("/apis/apiextensions.k8s.io/");
  t.teardown(() => api.clearFaults());
  const doc = await human(["doctor", ...dirs]);
  t.match(doc.stdout + doc.stderr, /crd: cannot read it: .*403 Forbidden.*\[redacted\]/);
  t.notOk((doc.stdout + doc.stderr).includes(api.token), "the token is not printed");
});
