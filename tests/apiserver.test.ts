import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import t from "tap";
import { startApiServer, type ApiServer } from "./helpers/apiserver.ts";

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed JSON body (an object for every answer this server gives). */
  json: Record<string, unknown>;
}

interface CallOptions {
  /** "token" (default), "cert", "none", or a literal bearer token. */
  auth?: "token" | "cert" | "none" | { token: string };
  body?: unknown;
  contentType?: string;
}

/** One HTTPS request that trusts only the server's CA. */
function call(api: ApiServer, method: string, urlPath: string, opts: CallOptions = {}): Promise<Reply> {
  const auth = opts.auth ?? "token";
  const headers: Record<string, string> = { Accept: "application/json" };
  if (auth === "token") headers.Authorization = `Bearer ${api.token}`;
  else if (typeof auth === "object") headers.Authorization = `Bearer ${auth.token}`;
  const payload = opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  if (payload !== undefined) headers["Content-Type"] = opts.contentType ?? "application/json";
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${api.url}${urlPath}`,
      {
        method,
        headers,
        ca: api.caPem,
        agent: false,
        ...(auth === "cert" ? { cert: api.clientCertPem, key: api.clientKeyPem } : {}),
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => {
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            // left empty; the tests look at `text`
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

const POD = "/api/v1/namespaces/ns1/pods/pod1";
const NAD = "/apis/k8s.cni.cncf.io/v1/namespaces/ns1/network-attachment-definitions";

function annotations(obj: Record<string, unknown>): Record<string, unknown> {
  const meta = obj.metadata as Record<string, unknown>;
  return (meta.annotations ?? {}) as Record<string, unknown>;
}

function rv(obj: Record<string, unknown>): string {
  return String((obj.metadata as Record<string, unknown>).resourceVersion);
}

async function setup(test: Pick<typeof t, "teardown">): Promise<ApiServer> {
  const api = await startApiServer();
  test.teardown(() => api.stop());
  api.putPod({
    metadata: { namespace: "ns1", name: "pod1", uid: "uid-1", annotations: { "k8s.v1.cni.cncf.io/networks": "net1" } },
    spec: { nodeName: "node1" },
  });
  return api;
}

t.test("authentication", async (t) => {
  const api = await setup(t);

  t.test("a bearer token is accepted and not logged", async (t) => {
    const r = await call(api, "GET", POD);
    t.equal(r.status, 200);
    t.equal((r.json.metadata as Record<string, unknown>).uid, "uid-1");
    const last = api.requests[api.requests.length - 1];
    t.equal(last.auth, "token");
    t.equal(last.headers.authorization, undefined, "authorization header is not logged");
    t.equal(last.status, 200);
  });

  t.test("a client certificate is accepted", async (t) => {
    const r = await call(api, "GET", POD, { auth: "cert" });
    t.equal(r.status, 200);
    t.equal(api.requests[api.requests.length - 1].auth, "clientCert");
  });

  t.test("a valid client certificate wins over a wrong token", async (t) => {
    api.setToken("rotated");
    t.teardown(() => api.setToken(api.token));
    const r = await call(api, "GET", POD, { auth: "cert" });
    t.equal(r.status, 200);
  });

  for (const auth of ["none", { token: "wrong" }] as const) {
    t.test(`401 with ${typeof auth === "string" ? "no credentials" : "a wrong token"}`, async (t) => {
      const r = await call(api, "GET", POD, { auth });
      t.equal(r.status, 401);
      t.strictSame(r.json, {
        kind: "Status",
        apiVersion: "v1",
        metadata: {},
        status: "Failure",
        message: "Unauthorized",
        reason: "Unauthorized",
        code: 401,
      });
    });
  }

  t.test("setToken() rotates the accepted token", async (t) => {
    const before = api.token;
    api.setToken("new-token");
    t.equal((await call(api, "GET", POD, { auth: { token: before } })).status, 401);
    t.equal((await call(api, "GET", POD, { auth: { token: "new-token" } })).status, 200);
    api.setToken(before);
  });
});

t.test("Status bodies", async (t) => {
  const api = await setup(t);

  t.test("404 for a missing pod", async (t) => {
    const r = await call(api, "GET", "/api/v1/namespaces/ns1/pods/x");
    t.equal(r.status, 404);
    t.equal(
      r.text,
      '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \\"x\\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}',
    );
  });

  t.test("404 for a missing NAD names its group", async (t) => {
    const r = await call(api, "GET", `${NAD}/nope`);
    t.equal(r.status, 404);
    t.equal(r.json.message, 'network-attachment-definitions.k8s.cni.cncf.io "nope" not found');
    t.strictSame(r.json.details, { name: "nope", group: "k8s.cni.cncf.io", kind: "network-attachment-definitions" });
  });

  t.test("404 for an unknown path", async (t) => {
    const r = await call(api, "GET", "/apis/example.com/v1/namespaces/ns1/things/a");
    t.equal(r.status, 404);
    t.equal(r.json.message, "the server could not find the requested resource");
  });

  t.test("injected 409, 429, 500 and 503", async (t) => {
    api.failNext(1, 409, { pathPrefix: POD });
    let r = await call(api, "GET", POD);
    t.equal(r.status, 409);
    t.equal(r.json.reason, "Conflict");
    t.match(r.json.message, /^Operation cannot be fulfilled on pods "pod1": the object has been modified/);

    api.failNext(1, 429, { retryAfter: 3 });
    r = await call(api, "GET", POD);
    t.equal(r.status, 429);
    t.equal(r.headers["retry-after"], "3");
    t.equal(r.json.reason, "TooManyRequests");
    t.strictSame(r.json.details, { retryAfterSeconds: 3 });

    api.failNext(1, 429);
    r = await call(api, "GET", POD);
    t.equal(r.headers["retry-after"], "1", "429 defaults to Retry-After: 1");

    api.failNext(1, 500, { message: "etcdserver: request timed out" });
    r = await call(api, "GET", POD);
    t.equal(r.status, 500);
    t.equal(r.json.reason, "InternalError");
    t.equal(r.json.message, "etcdserver: request timed out");
    t.equal(r.json.kind, "Status");
    t.equal(r.json.code, 500);

    api.failNext(1, 503);
    r = await call(api, "GET", POD);
    t.equal(r.json.reason, "ServiceUnavailable");

    t.equal((await call(api, "GET", POD)).status, 200, "faults are used up");
  });

  t.test("failNext() counts, and matches path prefix and method", async (t) => {
    api.failNext(2, 500, { pathPrefix: "/apis/", method: "get" });
    t.equal((await call(api, "GET", POD)).status, 200, "other path unaffected");
    t.equal((await call(api, "PATCH", POD, { body: {}, contentType: "application/merge-patch+json" })).status, 200);
    t.equal((await call(api, "GET", `${NAD}/a`)).status, 500);
    t.equal((await call(api, "GET", `${NAD}/a`)).status, 500);
    t.equal((await call(api, "GET", `${NAD}/a`)).status, 404);
  });

  t.test("failNext('reset') drops the connection", async (t) => {
    api.failNext(1, "reset");
    await t.rejects(call(api, "GET", POD), { code: "ECONNRESET" });
    t.equal((await call(api, "GET", POD)).status, 200);
  });

  t.test("forbid() answers 403 with the verb and resource", async (t) => {
    api.forbid(`${POD}/status`, "PATCH");
    t.teardown(() => api.clearFaults());
    const r = await call(api, "PATCH", `${POD}/status`, { body: {}, contentType: "application/merge-patch+json" });
    t.equal(r.status, 403);
    t.equal(r.json.reason, "Forbidden");
    t.equal(
      r.json.message,
      'pods "pod1" is forbidden: User "system:serviceaccount:kube-system:multus" cannot patch resource "pods/status" in API group "" in the namespace "ns1"',
    );
    t.equal((await call(api, "GET", `${POD}/status`)).status, 200, "other methods still work");
  });

  t.test("415 for an unsupported patch type", async (t) => {
    const r = await call(api, "PATCH", POD, { body: "metadata: {}", contentType: "application/apply-patch+yaml" });
    t.equal(r.status, 415);
    t.equal(r.json.reason, "UnsupportedMediaType");
    t.match(r.json.message, /application\/merge-patch\+json/);
  });

  t.test("405 for a method the resource does not serve", async (t) => {
    const r = await call(api, "DELETE", POD);
    t.equal(r.status, 405);
    t.equal(r.json.reason, "MethodNotAllowed");
  });
});

t.test("patches", async (t) => {
  const api = await setup(t);
  const status = "k8s.v1.cni.cncf.io/network-status";

  t.test("merge patch adds and removes annotations and bumps resourceVersion", async (t) => {
    const before = rv(api.getPod("ns1", "pod1")!);
    const r = await call(api, "PATCH", `${POD}/status`, {
      body: { metadata: { annotations: { [status]: "[]", extra: "1" } } },
      contentType: "application/merge-patch+json",
    });
    t.equal(r.status, 200);
    t.strictSame(annotations(r.json), { "k8s.v1.cni.cncf.io/networks": "net1", [status]: "[]", extra: "1" });
    t.ok(Number(rv(r.json)) > Number(before));
    const r2 = await call(api, "PATCH", POD, {
      body: { metadata: { annotations: { extra: null } } },
      contentType: "application/merge-patch+json; charset=utf-8",
    });
    t.notOk("extra" in annotations(r2.json));
    t.ok(Number(rv(r2.json)) > Number(rv(r.json)));
    t.strictSame(api.getPod("ns1", "pod1")!.metadata.annotations, annotations(r2.json), "the store holds the result");
  });

  t.test("strategic merge patch merges the annotations map", async (t) => {
    const r = await call(api, "PATCH", `${POD}/status`, {
      body: { metadata: { annotations: { [status]: '[{"name":"x"}]' } }, $setElementOrder: [] },
      contentType: "application/strategic-merge-patch+json",
    });
    t.equal(r.status, 200);
    t.equal(annotations(r.json)[status], '[{"name":"x"}]');
    t.equal(annotations(r.json)["k8s.v1.cni.cncf.io/networks"], "net1");
  });

  t.test("JSON patch add/replace/remove/test with ~1 escaping", async (t) => {
    const p = "/metadata/annotations/k8s.v1.cni.cncf.io~1network-status";
    let r = await call(api, "PATCH", `${POD}/status`, {
      body: [
        { op: "add", path: p, value: "a" },
        { op: "test", path: p, value: "a" },
        { op: "replace", path: p, value: "b" },
        { op: "add", path: "/metadata/annotations/gone", value: "x" },
        { op: "remove", path: "/metadata/annotations/gone" },
      ],
      contentType: "application/json-patch+json",
    });
    t.equal(r.status, 200);
    t.equal(annotations(r.json)[status], "b");
    t.notOk("gone" in annotations(r.json));

    r = await call(api, "PATCH", POD, {
      body: [{ op: "test", path: p, value: "zzz" }, { op: "replace", path: p, value: "c" }],
      contentType: "application/json-patch+json",
    });
    t.equal(r.status, 422, "a failed test rejects the whole patch");
    t.equal(r.json.reason, "Invalid");
    t.equal(annotations(api.getPod("ns1", "pod1")!)[status], "b");
  });

  t.test("JSON patch add into a missing annotations map fails like the real server", async (t) => {
    api.putPod({ metadata: { namespace: "ns1", name: "bare" } });
    const r = await call(api, "PATCH", "/api/v1/namespaces/ns1/pods/bare", {
      body: [{ op: "add", path: "/metadata/annotations/a", value: "1" }],
      contentType: "application/json-patch+json",
    });
    t.equal(r.status, 422);
    t.match(r.json.message, /missing path/);
    const ok = await call(api, "PATCH", "/api/v1/namespaces/ns1/pods/bare", {
      body: [{ op: "add", path: "/metadata/annotations", value: { a: "1" } }],
      contentType: "application/json-patch+json",
    });
    t.equal(ok.status, 200);
    t.strictSame(annotations(ok.json), { a: "1" });
  });

  t.test("a patch carrying a stale resourceVersion or another uid conflicts", async (t) => {
    let r = await call(api, "PATCH", POD, {
      body: { metadata: { resourceVersion: "1", annotations: { a: "b" } } },
      contentType: "application/merge-patch+json",
    });
    t.equal(r.status, 409);
    t.equal(r.json.reason, "Conflict");
    r = await call(api, "PATCH", POD, {
      body: { metadata: { uid: "other", annotations: { a: "b" } } },
      contentType: "application/merge-patch+json",
    });
    t.equal(r.status, 409);
    t.match(r.json.message, /^Precondition failed: UID in precondition: other, UID in object meta: uid-1/);
  });

  t.test("annotation values must be strings", async (t) => {
    const r = await call(api, "PATCH", POD, { body: { metadata: { annotations: { a: 1 } } }, contentType: "application/merge-patch+json" });
    t.equal(r.status, 400);
  });

  t.test("the status subresource does not change spec; the main endpoint does not change status", async (t) => {
    await call(api, "PATCH", `${POD}/status`, {
      body: { spec: { nodeName: "elsewhere" }, status: { phase: "Running" } },
      contentType: "application/merge-patch+json",
    });
    let pod = api.getPod("ns1", "pod1")!;
    t.equal(pod.spec?.nodeName, "node1");
    t.equal(pod.status?.phase, "Running");
    await call(api, "PATCH", POD, { body: { status: { phase: "Failed" } }, contentType: "application/merge-patch+json" });
    pod = api.getPod("ns1", "pod1")!;
    t.equal(pod.status?.phase, "Running");
  });
});

t.test("PUT /status checks resourceVersion", async (t) => {
  const api = await setup(t);
  const got = await call(api, "GET", `${POD}/status`);
  const pod = got.json as { metadata: Record<string, unknown> };
  const stale = { ...pod, metadata: { ...pod.metadata, resourceVersion: "1" } };

  const conflict = await call(api, "PUT", `${POD}/status`, { body: stale });
  t.equal(conflict.status, 409);
  t.strictSame(conflict.json, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message:
      'Operation cannot be fulfilled on pods "pod1": the object has been modified; please apply your changes to the latest version and try again',
    reason: "Conflict",
    details: { name: "pod1", kind: "pods" },
    code: 409,
  });

  const fresh = { ...pod, metadata: { ...pod.metadata, annotations: { "k8s.v1.cni.cncf.io/network-status": "[]" } } };
  const ok = await call(api, "PUT", `${POD}/status`, { body: fresh });
  t.equal(ok.status, 200);
  t.strictSame(annotations(ok.json), { "k8s.v1.cni.cncf.io/network-status": "[]" });
  t.ok(Number(rv(ok.json)) > Number(rv(got.json)));

  const again = await call(api, "PUT", `${POD}/status`, { body: fresh });
  t.equal(again.status, 409, "the version just used is now stale");

  const { resourceVersion: _drop, ...noRv } = pod.metadata;
  const missing = await call(api, "PUT", `${POD}/status`, { body: { ...pod, metadata: noRv } });
  t.equal(missing.status, 422);

  const wrongName = await call(api, "PUT", `${POD}/status`, { body: { ...pod, metadata: { ...pod.metadata, name: "x" } } });
  t.equal(wrongName.status, 400);
});

t.test("objects, CRD and access reviews", async (t) => {
  const api = await setup(t);

  t.test("NADs from a config string, a config object or a whole object", async (t) => {
    api.putNad("ns1", "a", '{"cniVersion":"0.3.1","type":"macvlan"}');
    api.putNad("ns1", "b", { cniVersion: "1.0.0", type: "bridge" });
    api.putNad("ns1", "c", { metadata: { annotations: { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov" } }, spec: {} });
    const a = await call(api, "GET", `${NAD}/a`);
    t.equal(a.status, 200);
    t.equal(a.json.apiVersion, "k8s.cni.cncf.io/v1");
    t.equal(a.json.kind, "NetworkAttachmentDefinition");
    t.strictSame(a.json.spec, { config: '{"cniVersion":"0.3.1","type":"macvlan"}' });
    const meta = a.json.metadata as Record<string, unknown>;
    t.equal(meta.namespace, "ns1");
    t.equal(meta.name, "a");
    t.type(meta.uid, "string");
    t.type(meta.resourceVersion, "string");
    t.strictSame(JSON.parse(String(api.getNad("ns1", "b")!.spec?.config)), { cniVersion: "1.0.0", type: "bridge" });
    t.strictSame(annotations((await call(api, "GET", `${NAD}/c`)).json), { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov" });
    const list = await call(api, "GET", NAD);
    t.equal(list.json.kind, "NetworkAttachmentDefinitionList");
    t.equal((list.json.items as unknown[]).length, 3);
    t.ok(api.deleteNad("ns1", "c"));
    t.equal((await call(api, "GET", `${NAD}/c`)).status, 404);
  });

  t.test("legacy Network objects under both old groups", async (t) => {
    const obj = { metadata: { name: "flannel-conf" }, plugin: "flannel", args: '[ { "delegate": { "isDefaultGateway": true } } ]' };
    api.putObject("kubernetes.com/v1", "default", "networks", obj);
    api.putObject("/apis/kubernetes-network.cni.cncf.io/v1", "default", "networks", obj);
    for (const prefix of ["/apis/kubernetes.com/v1", "/apis/kubernetes-network.cni.cncf.io/v1"]) {
      const r = await call(api, "GET", `${prefix}/namespaces/default/networks/flannel-conf`);
      t.equal(r.status, 200, prefix);
      t.equal(r.json.plugin, "flannel");
      t.equal(r.json.kind, "Network");
      const missing = await call(api, "GET", `${prefix}/namespaces/default/networks/other`);
      t.equal(missing.status, 404);
      t.equal(missing.json.message, `networks.${prefix.split("/")[2]} "other" not found`);
    }
  });

  t.test("the CRD can be absent, which also hides the NAD endpoints", async (t) => {
    const crd = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/network-attachment-definitions.k8s.cni.cncf.io";
    api.putNad("ns1", "a", "{}");
    let r = await call(api, "GET", crd);
    t.equal(r.status, 200);
    t.equal(r.json.kind, "CustomResourceDefinition");
    t.equal((r.json.spec as Record<string, unknown>).group, "k8s.cni.cncf.io");
    api.setCrd(false);
    r = await call(api, "GET", crd);
    t.equal(r.status, 404);
    t.equal(r.json.message, 'customresourcedefinitions.apiextensions.k8s.io "network-attachment-definitions.k8s.cni.cncf.io" not found');
    r = await call(api, "GET", `${NAD}/a`);
    t.equal(r.status, 404);
    t.equal(r.json.message, "the server could not find the requested resource");
    api.setCrd(true);
    t.equal((await call(api, "GET", `${NAD}/a`)).status, 200);

    const noCrd = await startApiServer({ crd: false });
    t.teardown(() => noCrd.stop());
    t.equal((await call(noCrd, "GET", crd)).status, 404);
  });

  t.test("SelfSubjectAccessReview is allowed unless a rule denies it", async (t) => {
    const review = (resourceAttributes: Record<string, string>) =>
      call(api, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
        body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes } },
      });
    let r = await review({ verb: "patch", resource: "pods", subresource: "status", namespace: "ns1" });
    t.equal(r.status, 201);
    t.equal((r.json.status as Record<string, unknown>).allowed, true);
    api.denyAccess({ verb: "patch", resource: "pods", subresource: "status" });
    r = await review({ verb: "patch", resource: "pods", subresource: "status", namespace: "ns1" });
    t.equal((r.json.status as Record<string, unknown>).allowed, false);
    r = await review({ verb: "get", resource: "pods", namespace: "ns1" });
    t.equal((r.json.status as Record<string, unknown>).allowed, true);

    const strict = await startApiServer({ deny: [{ resource: "network-attachment-definitions" }] });
    t.teardown(() => strict.stop());
    const d = await call(strict, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
      body: { spec: { resourceAttributes: { verb: "get", group: "k8s.cni.cncf.io", resource: "network-attachment-definitions" } } },
    });
    t.equal((d.json.status as Record<string, unknown>).allowed, false);
  });
});

t.test("request counting and delay", async (t) => {
  const api = await setup(t);
  api.clearRequests();
  await call(api, "GET", POD);
  await call(api, "GET", POD);
  await call(api, "PATCH", `${POD}/status`, { body: {}, contentType: "application/merge-patch+json" });
  await call(api, "GET", `${NAD}/x`);
  t.equal(api.counts("GET", POD), 2);
  t.equal(api.counts("get", "/api/v1/"), 2);
  t.equal(api.counts("PATCH", `${POD}/status`), 1);
  t.equal(api.counts("*", "/"), 4);
  t.equal(api.counts("GET", "/apis/"), 1);
  t.strictSame(
    api.requests.map((r) => [r.method, r.path, r.status]),
    [
      ["GET", POD, 200],
      ["GET", POD, 200],
      ["PATCH", `${POD}/status`, 200],
      ["GET", `${NAD}/x`, 404],
    ],
  );
  t.equal(api.requests[2].body, "{}");

  api.delay(150, "/api/v1/");
  const start = Date.now();
  t.equal((await call(api, "GET", POD)).status, 200);
  t.ok(Date.now() - start >= 140, "the request was delayed");
  const start2 = Date.now();
  await call(api, "GET", `${NAD}/x`);
  t.ok(Date.now() - start2 < 140, "other paths are not delayed");
  api.delay(0, "/api/v1/");
});

t.test("kubeconfig files carry working credentials", async (t) => {
  const api = await setup(t);
  const dir = mkdtempSync(path.join(tmpdir(), "kubeconfig-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const field = (yaml: string, key: string): string => {
    const m = new RegExp(`^\\s*${key}: (".*")$`, "m").exec(yaml);
    if (m === null) throw new Error(`no ${key} in kubeconfig`);
    return JSON.parse(m[1]) as string;
  };
  const b64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

  const tokenYaml = readFileSync(api.writeKubeconfig(dir, { auth: "token" }), "utf8");
  t.equal(field(tokenYaml, "server"), api.url);
  t.equal(b64(field(tokenYaml, "certificate-authority-data")), api.caPem);
  t.equal(field(tokenYaml, "token"), api.token);
  t.match(tokenYaml, /current-context: fake-context/);

  const fileYaml = readFileSync(api.writeKubeconfig(dir, { auth: "tokenFile", namespace: "kube-system" }), "utf8");
  t.equal(readFileSync(field(fileYaml, "tokenFile"), "utf8"), api.token);
  t.equal(field(fileYaml, "namespace"), "kube-system");

  const certYaml = readFileSync(api.writeKubeconfig(dir, { auth: "clientCert" }), "utf8");
  t.equal(b64(field(certYaml, "client-certificate-data")), api.clientCertPem);
  t.equal(b64(field(certYaml, "client-key-data")), api.clientKeyPem);

  const filesYaml = readFileSync(api.writeKubeconfig(dir, { auth: "clientCert", inline: false, fileName: "files.yaml" }), "utf8");
  t.equal(readFileSync(field(filesYaml, "certificate-authority"), "utf8"), api.caPem);
  t.equal(readFileSync(field(filesYaml, "client-key"), "utf8"), api.clientKeyPem);

  const badYaml = readFileSync(api.writeKubeconfig(dir, { auth: "token", token: "nope", fileName: "bad.yaml" }), "utf8");
  t.equal((await call(api, "GET", POD, { auth: { token: field(badYaml, "token") } })).status, 401);
});

t.test("stop() closes the server and removes its files", async (t) => {
  const api = await startApiServer();
  t.ok(existsSync(api.tempDir));
  api.delay(5000);
  const pending = call(api, "GET", POD).then(
    () => "answered",
    () => "failed",
  );
  await new Promise((r) => setTimeout(r, 50));
  await api.stop();
  t.equal(await pending, "failed", "an in-flight request is cut off, not left hanging");
  t.notOk(existsSync(api.tempDir), "temp dir removed");
  await api.stop();
  t.pass("stop() twice is fine");
  await t.rejects(call(api, "GET", POD), { code: "ECONNREFUSED" });
});
