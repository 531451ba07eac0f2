import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingHttpHeaders } from "node:http";
import https from "node:https";
import { tmpdir } from "node:os";
import path from "node:path";
import { load as loadYaml } from "js-yaml";
import t from "tap";
import { type ApiServer, startApiServer } from "./helpers/apiserver.ts";

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The parsed JSON body (an object for every answer this server gives). */
  json: Record<string, unknown>;
}

/** Credentials as a client finds them in a kubeconfig. */
interface Creds {
  token?: string;
  cert?: string;
  key?: string;
}

interface CallOptions {
  /** @default the server's current token */
  creds?: Creds;
  /** Sent as JSON; a string is sent as it is. */
  body?: unknown;
  contentType?: string;
}

const MERGE = "application/merge-patch+json";

/** One HTTPS request that trusts only the server's CA. */
function call(api: ApiServer, method: string, urlPath: string, opts: CallOptions = {}): Promise<Reply> {
  const { token, cert, key } = opts.creds ?? { token: api.token };
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  const payload = opts.body === undefined || typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  if (payload !== undefined) headers["Content-Type"] = opts.contentType ?? "application/json";
  return new Promise((resolve, reject) => {
    const req = https.request(`${api.url}${urlPath}`, { method, headers, ca: api.caPem, agent: false, cert, key }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end(payload);
  });
}

/** The server, CA and credentials of a kubeconfig written by `writeKubeconfig`. */
function readKubeconfig(file: string): Creds & { server: string; ca: string; tokenFile?: string } {
  type Kubeconfig = { clusters: { cluster: Record<string, string> }[]; users: { user: Record<string, string> }[] };
  const kc = loadYaml(readFileSync(file, "utf8")) as Kubeconfig;
  const { server, "certificate-authority-data": ca } = kc.clusters[0].cluster;
  const user = kc.users[0].user;
  const b64 = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v, "base64").toString("utf8"));
  return {
    server,
    ca: b64(ca)!,
    token: user.token ?? (user.tokenFile === undefined ? undefined : readFileSync(user.tokenFile, "utf8")),
    tokenFile: user.tokenFile,
    cert: b64(user["client-certificate-data"]),
    key: b64(user["client-key-data"]),
  };
}

const POD = "/api/v1/namespaces/ns1/pods/pod1";
const NAD = "/apis/k8s.cni.cncf.io/v1/namespaces/ns1/network-attachment-definitions";
const CRD = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/network-attachment-definitions.k8s.cni.cncf.io";
const SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

function meta(obj: Record<string, unknown>): Record<string, unknown> {
  return obj.metadata as Record<string, unknown>;
}

function annotations(obj: Record<string, unknown>): Record<string, unknown> {
  return (meta(obj).annotations ?? {}) as Record<string, unknown>;
}

async function setup(test: Pick<typeof t, "teardown">): Promise<{ api: ApiServer; dir: string }> {
  const api = await startApiServer();
  const dir = mkdtempSync(path.join(tmpdir(), "apiserver-test-"));
  test.teardown(async () => {
    await api.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  api.putPod({
    metadata: { namespace: "ns1", name: "pod1", uid: "uid-1", annotations: { "k8s.v1.cni.cncf.io/networks": "net1" } },
    spec: { nodeName: "node1" },
  });
  return { api, dir };
}

t.test("authentication", async (t) => {
  const { api, dir } = await setup(t);
  const cert = readKubeconfig(api.writeKubeconfig(dir, { auth: "clientCert" }));

  t.test("a bearer token is accepted", async (t) => {
    const r = await call(api, "GET", POD);
    t.equal(r.status, 200);
    t.equal(meta(r.json).uid, "uid-1");
  });

  t.test("a client certificate is accepted, and wins over a wrong token", async (t) => {
    t.equal((await call(api, "GET", POD, { creds: { cert: cert.cert, key: cert.key } })).status, 200);
    t.equal((await call(api, "GET", POD, { creds: { ...cert, token: "wrong" } })).status, 200);
  });

  for (const [what, creds] of [
    ["no credentials", {}],
    ["a wrong token", { token: "wrong" }],
  ] as const) {
    t.test(`401 with ${what}`, async (t) => {
      const r = await call(api, "GET", POD, { creds });
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
    t.equal(api.token, "new-token");
    t.equal((await call(api, "GET", POD, { creds: { token: before } })).status, 401);
    t.equal((await call(api, "GET", POD)).status, 200);
  });
});

t.test("Status bodies and injected faults", async (t) => {
  const { api } = await setup(t);
  t.afterEach(() => api.clearFaults());

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

  t.test("404 for a path the server does not serve", async (t) => {
    for (const p of ["/apis/example.com/v1/namespaces/ns1/things/a", "/healthz", NAD]) {
      const r = await call(api, "GET", p);
      t.equal(r.status, 404, p);
      t.equal(r.json.message, "the server could not find the requested resource");
    }
  });

  t.test("405 for a method the endpoint does not serve", async (t) => {
    for (const [method, p] of [
      ["DELETE", POD],
      ["GET", `${POD}/status`],
      ["POST", CRD],
    ]) {
      const r = await call(api, method, p);
      t.equal(r.status, 405, `${method} ${p}`);
      t.equal(r.json.reason, "MethodNotAllowed");
    }
  });

  t.test("injected 409, 429 (with Retry-After) and 500", async (t) => {
    api.failNext(1, 409, { pathPrefix: POD });
    let r = await call(api, "GET", POD);
    t.equal(r.status, 409);
    t.equal(r.json.reason, "Conflict");
    t.match(r.json.message, /^Operation cannot be fulfilled on pods "pod1": the object has been modified/);
    t.strictSame(r.json.details, { name: "pod1", kind: "pods" });

    api.failNext(1, 429, { retryAfter: 3 });
    r = await call(api, "GET", POD);
    t.equal(r.status, 429);
    t.equal(r.headers["retry-after"], "3");
    t.equal(r.json.reason, "TooManyRequests");
    t.strictSame(r.json.details, { retryAfterSeconds: 3 });

    api.failNext(1, 429);
    r = await call(api, "GET", POD);
    t.equal(r.headers["retry-after"], "1", "429 defaults to Retry-After: 1");

    api.failNext(1, 429, { retryAfter: 0 });
    r = await call(api, "GET", POD);
    t.equal(r.headers["retry-after"], "0", "retry at once");

    api.failNext(1, 500);
    r = await call(api, "GET", POD);
    t.equal(r.status, 500);
    t.equal(r.json.kind, "Status");
    t.equal(r.json.reason, "InternalError");
    t.equal(r.json.code, 500);
    t.equal(r.headers["retry-after"], undefined);

    t.equal((await call(api, "GET", POD)).status, 200, "faults are used up");
  });

  t.test("failNext() counts, and matches path prefix and method", async (t) => {
    api.failNext(2, 500, { pathPrefix: "/apis/", method: "get" });
    t.equal((await call(api, "GET", POD)).status, 200, "other path unaffected");
    t.equal((await call(api, "GET", `${NAD}/a`)).status, 500);
    t.equal((await call(api, "POST", SSAR, { body: { spec: {} } })).status, 201, "other method unaffected");
    t.equal((await call(api, "GET", `${NAD}/a`)).status, 500);
    t.equal((await call(api, "GET", `${NAD}/a`)).status, 404);
  });

  t.test("clearFaults() drops pending failures", async (t) => {
    api.failNext(5, 500);
    api.clearFaults();
    t.equal((await call(api, "GET", POD)).status, 200);
  });

  t.test("forbid() answers 403 like RBAC, for namespaced and cluster-scoped resources", async (t) => {
    api.forbid(`${POD}/status`, "PATCH");
    api.forbid("/apis/apiextensions.k8s.io/");
    let r = await call(api, "PATCH", `${POD}/status`, { body: {}, contentType: MERGE });
    t.equal(r.status, 403);
    t.equal(r.json.reason, "Forbidden");
    t.equal(
      r.json.message,
      'pods "pod1" is forbidden: User "system:serviceaccount:kube-system:multus" cannot patch resource "pods/status" in API group "" in the namespace "ns1"',
    );
    t.strictSame(r.json.details, { name: "pod1", kind: "pods" });
    r = await call(api, "GET", CRD);
    t.equal(r.status, 403);
    t.equal(
      r.json.message,
      'customresourcedefinitions.apiextensions.k8s.io "network-attachment-definitions.k8s.cni.cncf.io" is forbidden: User "system:serviceaccount:kube-system:multus" cannot get resource "customresourcedefinitions" in API group "apiextensions.k8s.io" at the cluster scope',
    );
    t.equal((await call(api, "GET", POD)).status, 200, "other paths still work");
  });
});

t.test("merge patch of pods/status", async (t) => {
  const { api } = await setup(t);
  const status = "k8s.v1.cni.cncf.io/network-status";
  const patch = (body: unknown, contentType = MERGE) => call(api, "PATCH", `${POD}/status`, { body, contentType });

  t.test("adds and removes annotations and bumps resourceVersion", async (t) => {
    const before = Number(api.getPod("ns1", "pod1")!.metadata.resourceVersion);
    const r = await patch({ metadata: { uid: "uid-1", annotations: { [status]: "[]", extra: "1" } } });
    t.equal(r.status, 200);
    t.strictSame(annotations(r.json), { "k8s.v1.cni.cncf.io/networks": "net1", [status]: "[]", extra: "1" });
    t.ok(Number(meta(r.json).resourceVersion) > before);
    const r2 = await patch({ metadata: { annotations: { extra: null } } }, `${MERGE}; charset=utf-8`);
    t.equal(r2.status, 200);
    t.notOk("extra" in annotations(r2.json));
    t.ok(Number(meta(r2.json).resourceVersion) > Number(meta(r.json).resourceVersion));
    t.strictSame(api.getPod("ns1", "pod1")!.metadata.annotations, annotations(r2.json), "the store holds the result");
    t.equal(meta(r2.json).uid, "uid-1");
  });

  t.test("a uid or resourceVersion in the patch is a precondition", async (t) => {
    let r = await patch({ metadata: { uid: "other", annotations: { a: "b" } } });
    t.equal(r.status, 409);
    t.equal(r.json.reason, "Conflict");
    t.equal(r.json.message, "Precondition failed: UID in precondition: other, UID in object meta: uid-1");
    r = await patch({ metadata: { resourceVersion: "1", annotations: { a: "b" } } });
    t.equal(r.status, 409);
    t.match(r.json.message, /^Operation cannot be fulfilled on pods "pod1": the object has been modified/);
    t.notOk("a" in annotations(api.getPod("ns1", "pod1")!), "nothing written");
    const rv = api.getPod("ns1", "pod1")!.metadata.resourceVersion;
    r = await patch({ metadata: { resourceVersion: rv, annotations: { a: "b" } } });
    t.equal(r.status, 200, "the current resourceVersion passes");
  });

  t.test("the status subresource changes status, not spec", async (t) => {
    const r = await patch({ spec: { nodeName: "elsewhere" }, status: { phase: "Running" } });
    t.equal(r.status, 200);
    const pod = api.getPod("ns1", "pod1")!;
    t.strictSame(pod.spec, { nodeName: "node1" });
    t.strictSame(pod.status, { phase: "Running" });
  });

  t.test("bad patches: other patch types, not JSON, not an object, non-string annotations, missing pod", async (t) => {
    for (const type of ["application/strategic-merge-patch+json", "application/json-patch+json", "application/json"]) {
      const r = await patch({}, type);
      t.equal(r.status, 415, type);
      t.equal(r.json.reason, "UnsupportedMediaType");
      t.match(r.json.message, /application\/merge-patch\+json/);
    }
    t.equal((await patch("{")).status, 400, "not JSON");
    t.equal((await patch([])).status, 400);
    t.equal((await patch({ metadata: { annotations: { a: 1 } } })).status, 400);
    const missing = await call(api, "PATCH", "/api/v1/namespaces/ns1/pods/gone/status", { body: {}, contentType: MERGE });
    t.equal(missing.status, 404);
    t.equal(missing.json.message, 'pods "gone" not found');
  });
});

t.test("update (PUT) of pods/status", async (t) => {
  const { api } = await setup(t);
  const put = (body: unknown) => call(api, "PUT", `${POD}/status`, { body });

  t.test("replaces metadata and status, keeps spec, with resourceVersion and uid as preconditions", async (t) => {
    const pod = api.getPod("ns1", "pod1")!;
    const rv = pod.metadata.resourceVersion;
    const body = { ...pod, metadata: { ...pod.metadata, annotations: { a: "b" } }, spec: { nodeName: "x" }, status: { phase: "Running" } };
    const r = await put(body);
    t.equal(r.status, 200);
    t.strictSame(annotations(r.json), { a: "b" });
    t.ok(Number(meta(r.json).resourceVersion) > Number(rv));
    const stored = api.getPod("ns1", "pod1")!;
    t.strictSame(stored.spec, { nodeName: "node1" }, "spec stays");
    t.strictSame(stored.status, { phase: "Running" });
    const stale = await put({ ...body, metadata: { ...body.metadata, annotations: { c: "d" } } });
    t.equal(stale.status, 409, "the resourceVersion read before is stale now");
    t.match(stale.json.message, /^Operation cannot be fulfilled on pods "pod1": the object has been modified/);
    const fresh = api.getPod("ns1", "pod1")!;
    const otherUid = await put({ ...fresh, metadata: { ...fresh.metadata, uid: "other" } });
    t.equal(otherUid.status, 409);
    t.equal(otherUid.json.message, "Precondition failed: UID in precondition: other, UID in object meta: uid-1");
    t.strictSame(annotations(api.getPod("ns1", "pod1")!), { a: "b" }, "nothing written by the refused updates");
  });

  t.test("bad updates: another name, no metadata, a missing pod", async (t) => {
    const pod = api.getPod("ns1", "pod1")!;
    t.equal((await put({ ...pod, metadata: { ...pod.metadata, name: "pod2" } })).status, 400);
    t.equal((await put({ kind: "Pod" })).status, 400);
    t.equal((await call(api, "PUT", "/api/v1/namespaces/ns1/pods/gone/status", { body: pod })).status, 404);
    t.equal((await call(api, "PUT", POD, { body: pod })).status, 405, "only the status subresource takes an update");
  });
});

t.test("authorize() enforces a ClusterRole's rules like RBAC", async (t) => {
  const { api } = await setup(t);
  t.teardown(() => api.clearFaults());
  api.authorize([
    { apiGroups: [""], resources: ["pods", "pods/status"], verbs: ["get", "update"] },
    { apiGroups: ["k8s.cni.cncf.io"], resources: ["*"], verbs: ["*"] },
    { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["get"], resourceNames: ["other"] },
  ]);
  t.equal((await call(api, "GET", POD)).status, 200, "granted verb");
  const patch = await call(api, "PATCH", `${POD}/status`, { body: {}, contentType: MERGE });
  t.equal(patch.status, 403, "a verb the rules do not list");
  t.match(patch.json.message, /cannot patch resource "pods\/status" in API group ""/);
  t.equal((await call(api, "PUT", `${POD}/status`, { body: api.getPod("ns1", "pod1") })).status, 200, "update is granted");
  t.equal((await call(api, "GET", `${NAD}/x`)).status, 404, "wildcards: allowed, then not found");
  const crd = await call(api, "GET", CRD);
  t.equal(crd.status, 403, "resourceNames restrict the rule to those objects");
  const review = await call(api, "POST", SSAR, {
    body: { kind: "SelfSubjectAccessReview", spec: { resourceAttributes: { verb: "get", resource: "pods" } } },
  });
  t.equal(review.status, 403, "the review itself is a request the rules must grant");
  api.authorize([{ apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews"], verbs: ["create"] }]);
  const asked = async (resourceAttributes: Record<string, string>) =>
    (
      (await call(api, "POST", SSAR, { body: { kind: "SelfSubjectAccessReview", spec: { resourceAttributes } } })).json.status as Record<
        string,
        unknown
      >
    ).allowed;
  t.equal(await asked({ verb: "get", resource: "pods", group: "" }), false, "reviews are answered from the rules");
  api.authorize(undefined);
  t.equal((await call(api, "PATCH", `${POD}/status`, { body: {}, contentType: MERGE })).status, 200, "undefined allows everything");
});

t.test("echoCredentials() makes 401 and 403 bodies repeat the Authorization header", async (t) => {
  const { api } = await setup(t);
  t.teardown(() => api.clearFaults());
  api.echoCredentials(true);
  const r401 = await call(api, "GET", POD, { creds: { token: "not-the-token-123" } });
  t.equal(r401.status, 401);
  t.match(r401.json.message, /"Authorization: Bearer not-the-token-123"; token not-the-token-123/);
  api.forbid(POD);
  const r403 = await call(api, "GET", POD);
  t.equal(r403.status, 403);
  t.ok(String(r403.json.message).includes(`token ${api.token}`));
  api.echoCredentials(false);
  t.notOk(String((await call(api, "GET", POD)).json.message).includes(api.token), "off again");
});

t.test("onRequest() runs a step once, when the request arrives", async (t) => {
  const { api } = await setup(t);
  let ran = 0;
  api.onRequest("GET", POD, () => {
    ran++;
    api.putPod({ metadata: { namespace: "ns1", name: "pod1", uid: "uid-2" } });
  });
  t.equal(meta((await call(api, "GET", POD)).json).uid, "uid-2", "the step ran before the request was served");
  await call(api, "GET", POD);
  t.equal(ran, 1);
});

t.test("acknowledgeProtobufWrites() answers upstream's protobuf event and status writes without applying them", async (t) => {
  const api = await startApiServer();
  t.teardown(() => api.stop());
  api.putPod({ metadata: { namespace: "ns1", name: "p1", annotations: { a: "1" } } });
  const PROTOBUF = "application/vnd.kubernetes.protobuf";
  const write = () => [
    call(api, "POST", "/api/v1/namespaces/ns1/events", { body: "k8s\0\n\x0fv1", contentType: PROTOBUF }),
    call(api, "PUT", "/api/v1/namespaces/ns1/pods/p1/status", { body: "k8s\0\n\x0fv1", contentType: PROTOBUF }),
  ];
  for (const r of await Promise.all(write())) t.equal(r.status, 400, "off: not JSON");
  api.acknowledgeProtobufWrites(true);
  const [ev, st] = await Promise.all(write());
  t.equal(ev.status, 201);
  t.equal(st.status, 200);
  t.same((st.json.metadata as { annotations: unknown }).annotations, { a: "1" }, "the pod as it is: nothing applied");
});

t.test("the server answers on 127.0.0.1 and ::1, and the requests log their arrival time", async (t) => {
  const { api } = await setup(t);
  const before = Date.now();
  const v6 = await new Promise<number>((resolve, reject) => {
    const req = https.request(
      `https://[::1]:${api.port}${POD}`,
      { headers: { authorization: `Bearer ${api.token}` }, ca: api.caPem },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
  t.equal(v6, 200, "the certificate names ::1 too");
  const last = api.requests().at(-1)!;
  t.ok(last.at >= before && last.at <= Date.now());
});

t.test("objects, CRD and access reviews", async (t) => {
  const { api } = await setup(t);

  t.test("NADs from a CNI config or a whole object", async (t) => {
    const stored = api.putNad("ns1", "a", { cniVersion: "1.0.0", type: "bridge" });
    api.putNad("ns1", "b", { metadata: { annotations: { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov" } }, spec: {} });
    const a = await call(api, "GET", `${NAD}/a`);
    t.equal(a.status, 200);
    t.strictSame(a.json, stored, "GET returns what putNad stored");
    t.equal(a.json.apiVersion, "k8s.cni.cncf.io/v1");
    t.equal(a.json.kind, "NetworkAttachmentDefinition");
    t.strictSame(a.json.spec, { config: '{"cniVersion":"1.0.0","type":"bridge"}' });
    t.match(meta(a.json), { name: "a", namespace: "ns1", uid: String, resourceVersion: String, creationTimestamp: String });
    const b = await call(api, "GET", `${NAD}/b`);
    t.strictSame(b.json.spec, {});
    t.strictSame(annotations(b.json), { "k8s.v1.cni.cncf.io/resourceName": "intel.com/sriov" });
  });

  t.test("putPod() fills in metadata; replacing keeps the uid", async (t) => {
    const first = api.putPod({ metadata: { namespace: "ns1", name: "p2" } });
    t.match(first, { apiVersion: "v1", kind: "Pod", metadata: { name: "p2", namespace: "ns1", uid: String }, spec: {}, status: {} });
    const second = api.putPod({ metadata: { namespace: "ns1", name: "p2", annotations: { a: "b" } } });
    t.equal(second.metadata.uid, first.metadata.uid);
    t.not(second.metadata.resourceVersion, first.metadata.resourceVersion);
    t.equal(api.getPod("ns1", "nope"), undefined);
  });

  t.test("legacy Network objects under both old groups", async (t) => {
    const obj = { metadata: { name: "flannel-conf" }, plugin: "flannel", args: '[ { "delegate": { "isDefaultGateway": true } } ]' };
    for (const group of ["kubernetes.com", "kubernetes-network.cni.cncf.io"]) {
      api.putObject(`${group}/v1`, "default", "networks", obj);
      const r = await call(api, "GET", `/apis/${group}/v1/namespaces/default/networks/flannel-conf`);
      t.equal(r.status, 200, group);
      t.equal(r.json.apiVersion, `${group}/v1`);
      t.equal(r.json.kind, "Network");
      t.equal(r.json.plugin, "flannel");
      const missing = await call(api, "GET", `/apis/${group}/v1/namespaces/default/networks/other`);
      t.equal(missing.status, 404);
      t.equal(missing.json.message, `networks.${group} "other" not found`);
    }
  });

  t.test("the CRD can be absent, which also hides the NAD endpoints", async (t) => {
    api.putNad("ns1", "a", {});
    let r = await call(api, "GET", CRD);
    t.equal(r.status, 200);
    t.equal(r.json.kind, "CustomResourceDefinition");
    t.match(r.json.spec, { group: "k8s.cni.cncf.io", names: { plural: "network-attachment-definitions" }, scope: "Namespaced" });
    api.setCrd(false);
    r = await call(api, "GET", CRD);
    t.equal(r.status, 404);
    t.equal(r.json.message, 'customresourcedefinitions.apiextensions.k8s.io "network-attachment-definitions.k8s.cni.cncf.io" not found');
    r = await call(api, "GET", `${NAD}/a`);
    t.equal(r.status, 404);
    t.equal(r.json.message, "the server could not find the requested resource");
    api.setCrd(true);
    t.equal((await call(api, "GET", `${NAD}/a`)).status, 200);
  });

  t.test("SelfSubjectAccessReview is allowed unless a rule denies it", async (t) => {
    const review = (resourceAttributes: Record<string, string>) =>
      call(api, "POST", SSAR, {
        body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes } },
      });
    const allowed = (r: Reply) => (r.json.status as Record<string, unknown>).allowed;
    const patchStatus = { verb: "patch", resource: "pods", subresource: "status", group: "" };
    const r = await review(patchStatus);
    t.equal(r.status, 201);
    t.equal(r.json.kind, "SelfSubjectAccessReview");
    t.strictSame((r.json.spec as Record<string, unknown>).resourceAttributes, patchStatus, "the spec is echoed");
    t.equal(allowed(r), true);
    api.denyAccess({ verb: "patch", resource: "pods", subresource: "status" });
    t.equal(allowed(await review(patchStatus)), false);
    t.equal(allowed(await review({ verb: "get", resource: "pods" })), true, "other attributes stay allowed");
    api.clearFaults();
    t.equal(allowed(await review(patchStatus)), true, "clearFaults() removes deny rules");
    t.equal((await call(api, "POST", SSAR, { body: {} })).status, 400, "a review needs a spec");
  });
});

t.test("request counting and delay", async (t) => {
  const { api } = await setup(t);
  await call(api, "GET", POD);
  api.clearRequests();
  t.equal(api.counts("*"), 0);
  await call(api, "GET", POD);
  await call(api, "GET", POD, { creds: {} });
  await call(api, "PATCH", `${POD}/status`, { body: {}, contentType: MERGE });
  await call(api, "GET", `${NAD}/x`);
  t.equal(api.counts("GET", POD), 2, "requests that fail count too");
  t.equal(api.counts("get", "/api/v1/"), 2, "the method is case-insensitive");
  t.equal(api.counts("PATCH", `${POD}/status`), 1);
  t.equal(api.counts("GET", "/apis/"), 1);
  t.equal(api.counts("*"), 4);

  // Order, not elapsed time, tells a delayed path from the others: that holds on a loaded machine.
  const finished: string[] = [];
  const timed = (label: string, path: string) =>
    call(api, "GET", path).then((r) => {
      finished.push(label);
      return r;
    });
  api.delay(1000, "/api/v1/");
  const start = Date.now();
  const [delayed] = await Promise.all([timed("pod", POD), timed("nad", `${NAD}/x`)]);
  t.equal(delayed.status, 200);
  t.ok(Date.now() - start >= 990, "the request was delayed");
  t.same(finished, ["nad", "pod"], "other paths are not delayed");
  finished.length = 0;
  api.delay(0, "/api/v1/");
  api.delay(500, "/apis/");
  await Promise.all([timed("nad", `${NAD}/x`), timed("pod", POD)]);
  t.same(finished, ["pod", "nad"], "delay(0) removes the delay: the pod read passes a 500 ms one");
});

t.test("kubeconfig files carry working credentials", async (t) => {
  const { api, dir } = await setup(t);
  for (const auth of ["token", "tokenFile", "clientCert"] as const) {
    const file = api.writeKubeconfig(dir, { auth });
    t.equal(path.basename(file), `kubeconfig-${auth}.yaml`);
    const kc = readKubeconfig(file);
    t.equal(kc.server, api.url, auth);
    t.equal(kc.ca, api.caPem);
    if (auth === "tokenFile") t.equal(kc.tokenFile, path.join(dir, "kubeconfig-tokenFile.token"));
    t.equal((await call(api, "GET", POD, { creds: kc })).status, 200, `${auth} works`);
  }
  const bad = api.writeKubeconfig(dir, { auth: "token", token: "nope", fileName: "bad.yaml" });
  t.equal(bad, path.join(dir, "bad.yaml"));
  t.equal(readKubeconfig(bad).token, "nope");
  t.equal((await call(api, "GET", POD, { creds: readKubeconfig(bad) })).status, 401);
  const badFile = readKubeconfig(api.writeKubeconfig(dir, { auth: "tokenFile", token: "nope", fileName: "bad-file.yaml" }));
  t.equal(badFile.tokenFile, path.join(dir, "bad-file.token"));
  t.equal((await call(api, "GET", POD, { creds: badFile })).status, 401);
});

t.test("stop() closes the server and cuts off requests in flight", async (t) => {
  const api = await startApiServer();
  api.delay(5000);
  const pending = call(api, "GET", POD).then(
    () => "answered",
    () => "failed",
  );
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  await api.stop();
  t.equal(await pending, "failed", "an in-flight request is cut off, not left hanging");
  t.ok(Date.now() - started < 1000, "without waiting for the delay");
  await api.stop();
  t.pass("stop() twice is fine");
  await t.rejects(call(api, "GET", POD), { code: "ECONNREFUSED" });
});
