// Kubeconfig files as client-go reads them: every form of `server`, the
// files a kubeconfig names, and exec credential plugins, against the in-repo
// HTTPS API server through the plugin's own client (lib/k8s/client.ts).
import { join } from "node:path";
import t from "tap";
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
