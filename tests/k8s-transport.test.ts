// The API server as the executable reaches it (lib/k8s/transport.ts): Bun's
// fetch for the common forms of a kubeconfig's server, undici where fetch
// cannot say what the kubeconfig asks (tls-server-name). Each form works
// end to end through an ADD and a DEL in Kubernetes mode, the certificate is
// checked against the right name, and a client certificate authenticates.
import { readFileSync, writeFileSync } from "node:fs";
import t from "tap";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";
import { links, makeNetns } from "./helpers/netns.ts";
import { runPlugin } from "./helpers/run-plugin.ts";
import { type Scenario, scenario } from "./helpers/scenario.ts";

let api: ApiServer;
t.before(async () => {
  api = await startApiServer();
});
t.teardown(() => api.stop());

let pods = 0;
async function addDel(t: Parameters<typeof scenario>[0], s: Scenario, kubeconfig: string) {
  const ns = makeNetns(t);
  const name = `mttr${++pods}`;
  const stored = api.putPod({ metadata: { name, namespace: "ns1", annotations: {} } });
  const call = {
    containerId: `tr-${pods}`,
    netns: ns.path,
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=${name};K8S_POD_UID=${stored.metadata.uid}`,
    stdin: s.netconf([s.bridge()], { kubeconfig }),
  };
  const add = await runPlugin({ ...call, command: "ADD" });
  const written = api.getPod("ns1", name)?.metadata.annotations?.["k8s.v1.cni.cncf.io/network-status"];
  const del = await runPlugin({ ...call, command: "DEL" });
  return { add, del, written, links: links(ns.name) };
}

/** The kubeconfig the server writes, with `tls-server-name` set on its cluster. */
function withServerName(file: string, name: string): string {
  const text = readFileSync(file, "utf8").replace(
    "certificate-authority-data:",
    `tls-server-name: ${JSON.stringify(name)}, certificate-authority-data:`,
  );
  const out = file.replace(/\.yaml$/, `-sni-${name}.yaml`);
  writeFileSync(out, text, { mode: 0o600 });
  return out;
}

const port = () => new URL(api.url).port;
for (const [form, server] of [
  ["an IPv4 address", () => api.url],
  ["a DNS name", () => `https://localhost:${port()}`],
  ["an IPv6 address", () => `https://[::1]:${port()}`],
  ["an IPv4 address in brackets (upstream's installer)", () => `https://[127.0.0.1]:${port()}`],
  ["host:port without a scheme", () => `127.0.0.1:${port()}`],
] as const) {
  t.test(`server as ${form}: ADD writes network-status, DEL works`, async (t) => {
    const s = scenario(t);
    const r = await addDel(t, s, api.writeKubeconfig(s.dir, { auth: "token", server: server() }));
    t.equal(r.add.code, 0, r.add.stdout);
    t.ok(r.written, "network-status written");
    t.equal(r.del.code, 0, r.del.stdout);
    t.same(r.links, []);
  });
}

t.test("a client certificate authenticates", async (t) => {
  const s = scenario(t);
  const r = await addDel(t, s, api.writeKubeconfig(s.dir, { auth: "clientCert" }));
  t.equal(r.add.code, 0, r.add.stdout);
  t.ok(r.written);
});

t.test("tls-server-name: the certificate is checked against that name, not the address", async (t) => {
  const s = scenario(t);
  const base = api.writeKubeconfig(s.dir, { auth: "token" });
  const ok = await addDel(t, s, withServerName(base, "localhost"));
  t.equal(ok.add.code, 0, `a name the certificate has: ${ok.add.stdout}`);
  const bad = await addDel(t, s, withServerName(base, "mt-not-in-the-cert.invalid"));
  t.equal(bad.add.json?.code, 11, bad.add.stdout);
  t.match(String(bad.add.json?.msg), /no answer from https:\/\/127\.0\.0\.1:\d+: .*(altnames|hostname|certificate)/i);
  t.same(bad.links, [], "nothing left");
});

t.test(
  "an IPv6 address with a zone (undici's path): it works, and a certificate that does not fit fails the ADD, never silently",
  async (t) => {
    const s = scenario(t);
    const base = api.writeKubeconfig(s.dir, { auth: "token", server: `https://[::1%25lo]:${port()}`, fileName: "zone.yaml" });
    const ok = await addDel(t, s, withServerName(base, "localhost"));
    t.equal(ok.add.code, 0, ok.add.stdout);
    t.ok(ok.written, "network-status written");
    const bad = await addDel(t, s, withServerName(base, "mt-not-in-the-cert.invalid"));
    t.equal(bad.add.code, 1, "the ADD failed");
    t.ok(bad.add.json?.code, `with a CNI error on stdout: ${bad.add.stdout}`);
    t.same(bad.links, [], "nothing left");
  },
);
