/**
 * An in-process HTTPS server that answers like kube-apiserver for exactly the requests the product makes,
 * for tests that need a real network client, real TLS and real kubeconfig files:
 *
 * - GET `/api/v1/namespaces/{ns}/pods/{name}` (lib/k8s/pod.ts)
 * - PATCH `/api/v1/namespaces/{ns}/pods/{name}/status`, JSON merge patch only; a uid or resourceVersion in the
 *   patch is a precondition (lib/k8s/publish-status.ts)
 * - PUT of the same (an update, as upstream Multus writes it): the body's uid and resourceVersion are
 *   preconditions; a stale resourceVersion is a 409 Conflict
 * - GET `/apis/k8s.cni.cncf.io/v1/namespaces/{ns}/network-attachment-definitions/{name}` while the CRD is
 *   installed, and GET of legacy `Network` objects stored with `putObject` (lib/k8s/networks.ts)
 * - GET of the NetworkAttachmentDefinition CRD and POST of a SelfSubjectAccessReview (lib/cli/doctor.ts)
 *
 * Clients authenticate with the bearer token (from a kubeconfig `token`, `tokenFile` or exec plugin) or with
 * the client certificate signed by the server's throwaway CA. Errors are `kind: Status` bodies shaped like
 * the real ones. Faults (`failNext`, `delay`, `forbid`, `denyAccess`, `setCrd`, `echoCredentials`) drive the
 * client's error handling; `authorize` enforces a ClusterRole's rules as RBAC does; `onRequest` runs a step
 * (replace a pod ...) when a request arrives. Listens on 127.0.0.1 and ::1. Call `stop()` when done.
 */

import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface KubeconfigOptions {
  auth: "token" | "tokenFile" | "clientCert" | "exec";
  /** Token to write instead of the accepted one (for 401 tests). */
  token?: string;
  /** With auth "exec": the credential plugin the kubeconfig runs. */
  command?: string;
  /** File name inside `dir`. @default `kubeconfig-<auth>.yaml` */
  fileName?: string;
}

export interface FailOptions {
  /** Only requests whose path starts with this fail. @default any path */
  pathPrefix?: string;
  /** Only requests with this method fail (case-insensitive). @default any method */
  method?: string;
  /** Seconds for the `Retry-After` header and `details.retryAfterSeconds`. @default 1 for 429, else none */
  retryAfter?: number;
}

/** One rule of a (Cluster)Role, as in its YAML; "*" matches anything. */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** `spec.resourceAttributes` of a SelfSubjectAccessReview; in a deny rule, absent fields match anything. */
export type ResourceAttributes = Partial<Record<"namespace" | "verb" | "group" | "resource" | "subresource" | "name", string>>;

const PODS = "/api/v1/pods";
const NADS = "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions";
const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const CRD_NAME = "network-attachment-definitions.k8s.cni.cncf.io";
const SSARS = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
const EVENTS = "/api/v1/events";
const KINDS: Record<string, string> = { pods: "Pod", "network-attachment-definitions": "NetworkAttachmentDefinition", networks: "Network" };
const TOKEN_USER = "system:serviceaccount:kube-system:multus";
const CERT_USER = "system:multus:test-node";

// ---------------------------------------------------------------------------------------------------------
// Certificates: a throwaway CA, a server certificate for 127.0.0.1 and a client certificate for CERT_USER

interface Certs {
  ca: string;
  server: { cert: string; key: string };
  client: { cert: string; key: string };
}

/** Makes the certificates with the `openssl` CLI in a temporary directory, removed before returning. */
async function generateCerts(): Promise<Certs> {
  const dir = mkdtempSync(path.join(tmpdir(), "fake-apiserver-"));
  const file = (name: string) => path.join(dir, name);
  /** A new EC key and a certificate for it, self-signed unless `args` name a CA. */
  const make = async (name: string, cn: string, ...args: string[]) => {
    const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", file(`${name}.key`)];
    const subject = ["-days", "2", "-subj", `/CN=${cn}`];
    await promisify(execFile)("openssl", ["req", "-x509", ...newKey, "-out", file(`${name}.crt`), ...subject, ...args]);
    return { cert: await readFile(file(`${name}.crt`), "utf8"), key: await readFile(file(`${name}.key`), "utf8") };
  };
  const signedFor = (usage: string) => [
    ...["-CA", file("ca.crt"), "-CAkey", file("ca.key")],
    ...["-addext", "basicConstraints=critical,CA:FALSE", "-addext", `extendedKeyUsage=${usage}`],
  ];
  try {
    const ca = await make("ca", "fake-kube-apiserver-ca");
    const [server, client] = await Promise.all([
      make("server", "127.0.0.1", ...signedFor("serverAuth"), "-addext", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"),
      make("client", CERT_USER, ...signedFor("clientAuth")),
    ]);
    return { ca: ca.cert, server, client };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Status bodies

/** Thrown by handlers; answered as a failure Status (with the key order of real bodies) and `headers`. */
class StatusError extends Error {
  readonly body: Record<string, unknown>;
  constructor(
    readonly code: number,
    message: string,
    details?: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    // kube-apiserver's reason for each code this server sends is the HTTP reason phrase without spaces, but for 500.
    const reason = code === 500 ? "InternalError" : (STATUS_CODES[code] ?? "Unknown").replaceAll(" ", "");
    this.body = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, ...(details && { details }), code };
  }
}

/** What a resource path addresses, for routing and for the messages below. */
interface Target {
  verb: string;
  /** `/api/v1` or `/apis/<group>/<version>` */
  prefix: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const RESOURCE_PATH = /^(\/api\/v1|\/apis\/([^/]+)\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/;
const VERBS: Record<string, string> = { GET: "get", PATCH: "patch", POST: "create", PUT: "update", DELETE: "delete" };

/** The Target of a path; undefined when it is not a resource path. */
function targetOf(method: string, p: string): Target | undefined {
  const m = RESOURCE_PATH.exec(p);
  if (m === null) return undefined;
  const [, prefix, group = "", namespace, resource, name, subresource] = m;
  const verb = method === "GET" && name === undefined ? "list" : (VERBS[method] ?? method.toLowerCase());
  return { verb, prefix, group, resource, namespace, name, subresource };
}

/** Does one of `rules` allow `verb` on group/resource[/subresource] (named `name`)? RBAC's matching, "*" included. */
export function rulesAllow(rules: readonly PolicyRule[], a: ResourceAttributes): boolean {
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : (a.resource ?? "");
  const has = (list: readonly string[] | undefined, v: string) => list !== undefined && (list.includes("*") || list.includes(v));
  return rules.some(
    (r) =>
      has(r.apiGroups, a.group ?? "") &&
      has(r.resources, resource) &&
      has(r.verbs, a.verb ?? "") &&
      (!r.resourceNames?.length || (a.name !== undefined && r.resourceNames.includes(a.name))),
  );
}

/** `pods`, or `network-attachment-definitions.k8s.cni.cncf.io` */
const label = (t: Target) => (t.group ? `${t.resource}.${t.group}` : t.resource);
const detailsOf = (t: Target) => ({ ...(t.name && { name: t.name }), ...(t.group && { group: t.group }), kind: t.resource });

const noSuchPath = () => new StatusError(404, "the server could not find the requested resource", {});
const notFound = (t: Target) => new StatusError(404, `${label(t)} "${t.name}" not found`, detailsOf(t));

function conflict(t: Target | undefined): StatusError {
  if (t === undefined) return new StatusError(409, "the object has been modified", {});
  const message = `Operation cannot be fulfilled on ${label(t)} "${t.name}": the object has been modified; please apply your changes to the latest version and try again`;
  return new StatusError(409, message, detailsOf(t));
}

function forbidden(t: Target | undefined, user: string, p: string): StatusError {
  if (t === undefined) return new StatusError(403, `forbidden: User "${user}" cannot get path "${p}"`, {});
  const resource = t.subresource ? `${t.resource}/${t.subresource}` : t.resource;
  const subject = t.name === undefined ? label(t) : `${label(t)} "${t.name}"`;
  const scope = t.namespace === undefined ? "at the cluster scope" : `in the namespace "${t.namespace}"`;
  const message = `${subject} is forbidden: User "${user}" cannot ${t.verb} resource "${resource}" in API group "${t.group}" ${scope}`;
  return new StatusError(403, message, detailsOf(t));
}

/** The real server's messages for codes tests inject; a 409 names the object (conflict). */
const INJECTED: Record<number, string> = {
  429: "Too many requests, please try again later.",
  500: "Internal error occurred: injected failure",
};

/** An injected failure: the Status the real server sends with that code, plus Retry-After when asked. */
function injected(code: number, t: Target | undefined, opts: FailOptions): StatusError {
  const err = code === 409 ? conflict(t) : new StatusError(code, INJECTED[code] ?? `injected failure (${code})`, {});
  const retryAfter = opts.retryAfter ?? (code === 429 ? 1 : undefined);
  if (retryAfter === undefined) return err;
  const details = { ...(err.body.details as object), retryAfterSeconds: retryAfter };
  return new StatusError(code, err.message, details, { "Retry-After": String(retryAfter) });
}

// ---------------------------------------------------------------------------------------------------------
// JSON

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new StatusError(400, `the request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const stringMap = (v: unknown) => v === undefined || (isObject(v) && Object.values(v).every((x) => typeof x === "string"));

// ---------------------------------------------------------------------------------------------------------
// The server

export class ApiServer {
  /** `https://127.0.0.1:<port>` */
  url = "";
  /** The bearer token accepted; see `setToken`. */
  token = randomBytes(24).toString("base64url");
  readonly caPem: string;
  private readonly server: https.Server;
  private readonly closing = new AbortController();
  private stopping?: Promise<void>;
  /** Objects by URL path, e.g. `/api/v1/namespaces/ns1/pods/pod1`. */
  private readonly objects = new Map<string, KubeObject>();
  /** Served resources as `<prefix>/<plural>`. */
  private readonly resources = new Set([PODS, NADS]);
  private rv = 1000;
  private crd = true;
  private log: { method: string; path: string; at: number }[] = [];
  private readonly created: KubeObject[] = [];
  private faults: (FailOptions & { remaining: number; status: number })[] = [];
  private delays = new Map<string, number>();
  private forbids: { prefix: string; method?: string }[] = [];
  private deny: ResourceAttributes[] = [];
  private rules?: PolicyRule[];
  private echo = false;
  private protobufAck = false;
  private hooks: { method: string; prefix: string; run: () => void }[] = [];

  constructor(private readonly certs: Certs) {
    this.caPem = certs.ca;
    // A client certificate is optional (requestCert without rejectUnauthorized); authenticate() checks it.
    const { key, cert } = certs.server;
    const options = { key, cert, ca: certs.ca, requestCert: true, rejectUnauthorized: false };
    this.server = https.createServer(options, (req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent && !res.destroyed) this.send(res, 500, new StatusError(500, `Internal error occurred: ${String(err)}`).body);
      });
    });
  }

  /** On "::" (IPv4 too): clients may name it 127.0.0.1, [127.0.0.1], localhost or [::1]. */
  async listen(): Promise<void> {
    this.server.listen({ port: 0, host: "::", ipv6Only: false });
    await once(this.server, "listening");
    this.url = `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The port listened on. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Closes the server and cuts off requests in flight. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      this.closing.abort();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    return this.stopping;
  }

  /** Writes a kubeconfig for this server into `dir` (CA and client certificate inline) and returns its path. */
  writeKubeconfig(dir: string, opts: KubeconfigOptions & { server?: string }): string {
    const file = path.join(dir, opts.fileName ?? `kubeconfig-${opts.auth}.yaml`);
    const q = (s: string) => JSON.stringify(s);
    const b64 = (s: string) => q(Buffer.from(s).toString("base64"));
    const token = opts.token ?? this.token;
    let user = `client-certificate-data: ${b64(this.certs.client.cert)}, client-key-data: ${b64(this.certs.client.key)}`;
    if (opts.auth === "token") user = `token: ${q(token)}`;
    if (opts.auth === "tokenFile") {
      const tokenFile = file.replace(/(\.ya?ml)?$/, ".token");
      writeFileSync(tokenFile, token, { mode: 0o600 });
      user = `tokenFile: ${q(tokenFile)}`;
    }
    if (opts.auth === "exec") {
      if (!opts.command) throw new Error('writeKubeconfig: auth "exec" needs a command');
      user = `exec: {apiVersion: client.authentication.k8s.io/v1, command: ${q(opts.command)}, interactiveMode: Never}`;
    }
    const yaml = `apiVersion: v1
kind: Config
clusters: [{name: fake-cluster, cluster: {server: ${q(opts.server ?? this.url)}, certificate-authority-data: ${b64(this.caPem)}}}]
users: [{name: fake-user, user: {${user}}}]
contexts: [{name: fake-context, context: {cluster: fake-cluster, user: fake-user}}]
current-context: fake-context
`;
    writeFileSync(file, yaml, { mode: 0o600 });
    return file;
  }

  // ----- objects

  /**
   * Creates or replaces a namespaced object, e.g. a legacy Network:
   * `putObject("kubernetes.com/v1", "default", "networks", {metadata: {name: "flannel"}, plugin: "flannel"})`.
   * A replaced object keeps its uid unless one is given. Returns the stored copy.
   */
  putObject(groupVersion: string, namespace: string, plural: string, obj: KubeObject): KubeObject {
    const prefix = groupVersion.includes("/") ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
    const { apiVersion = groupVersion, kind = KINDS[plural], metadata, ...rest } = structuredClone(obj);
    const { name, namespace: _ns, uid, resourceVersion: _rv, creationTimestamp, ...meta } = metadata;
    if (!name) throw new Error("putObject: metadata.name is required");
    const key = `${prefix}/namespaces/${namespace}/${plural}/${name}`;
    const old = this.objects.get(key)?.metadata;
    const stored: KubeObject = {
      apiVersion,
      kind,
      metadata: {
        name,
        namespace,
        uid: uid ?? old?.uid ?? randomUUID(),
        resourceVersion: String(++this.rv),
        creationTimestamp: creationTimestamp ?? old?.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        ...meta,
      },
      ...rest,
    };
    this.resources.add(`${prefix}/${plural}`);
    this.objects.set(key, stored);
    return structuredClone(stored);
  }

  /** Creates or replaces a pod (with empty spec and status unless given); see `putObject`. */
  putPod(pod: KubeObject & { metadata: { namespace: string } }): KubeObject {
    return this.putObject("v1", pod.metadata.namespace, "pods", { spec: {}, status: {}, ...pod });
  }

  getPod(namespace: string, name: string): KubeObject | undefined {
    const pod = this.objects.get(`/api/v1/namespaces/${namespace}/pods/${name}`);
    return pod && structuredClone(pod);
  }

  /** Creates or replaces a NAD: `config` is the whole object when it has `spec` or `metadata`, else the CNI config for `spec.config`. */
  putNad(namespace: string, name: string, config: Record<string, unknown>): KubeObject {
    const obj = "spec" in config || "metadata" in config ? config : { spec: { config: JSON.stringify(config) } };
    const metadata = { ...(isObject(obj.metadata) ? obj.metadata : {}), name };
    return this.putObject("k8s.cni.cncf.io/v1", namespace, "network-attachment-definitions", { ...obj, metadata });
  }

  // ----- request log

  /** Number of requests with `method` ("*" for any) whose path starts with `pathPrefix`. */
  counts(method: string, pathPrefix = ""): number {
    const m = method.toUpperCase();
    return this.log.filter((r) => (m === "*" || r.method === m) && r.path.startsWith(pathPrefix)).length;
  }

  clearRequests(): void {
    this.log = [];
  }

  /** Every request so far, in order, with its arrival time (ms since the epoch): what a client's RBAC must allow. */
  requests(): readonly { method: string; path: string; at: number }[] {
    return [...this.log];
  }

  /** Events created (POST .../events), in order. */
  events(): readonly KubeObject[] {
    return [...this.created];
  }

  // ----- faults

  /** The next `n` requests matching `opts` fail with `status` and its Status body. */
  failNext(n: number, status: number, opts: FailOptions = {}): void {
    if (n > 0) this.faults.push({ ...opts, method: opts.method?.toUpperCase(), remaining: n, status });
  }

  /** Delays requests whose path starts with `pathPrefix` by `ms` (the longest if several match); 0 removes it. */
  delay(ms: number, pathPrefix = ""): void {
    if (ms > 0) this.delays.set(pathPrefix, ms);
    else this.delays.delete(pathPrefix);
  }

  /** Requests whose path starts with `pathPrefix` (and with `method`, if given) get 403 Forbidden. */
  forbid(pathPrefix: string, method?: string): void {
    this.forbids.push({ prefix: pathPrefix, method: method?.toUpperCase() });
  }

  /** SelfSubjectAccessReviews matching `rule` are answered `allowed: false`. */
  denyAccess(rule: ResourceAttributes): void {
    this.deny.push({ ...rule });
  }

  /**
   * Only what `rules` grant is allowed, as RBAC enforces a ClusterRole bound to the client (403 Forbidden for
   * the rest, SelfSubjectAccessReviews answered from them too); `undefined` allows everything again.
   */
  authorize(rules: readonly PolicyRule[] | undefined): void {
    this.rules = rules && structuredClone([...rules]);
  }

  /** 401 and 403 bodies repeat the request's Authorization header and its bare token, as a careless proxy does. */
  echoCredentials(on: boolean): void {
    this.echo = on;
  }

  /**
   * Answer the protobuf-encoded writes of upstream Multus (client-go: event
   * POSTs, the pods/status update) with success and the object as it is,
   * without decoding or applying them: for `npm run bench`, which times
   * upstream's calls, not their effect. Off: they are refused as not JSON.
   */
  acknowledgeProtobufWrites(on: boolean): void {
    this.protobufAck = on;
  }

  /** `run` once, when the next request with `method` whose path starts with `pathPrefix` arrives (before it is served). */
  onRequest(method: string, pathPrefix: string, run: () => void): void {
    this.hooks.push({ method: method.toUpperCase(), prefix: pathPrefix, run });
  }

  /** Installs or removes the NetworkAttachmentDefinition CRD (installed at start); without it NADs are not served. */
  setCrd(present: boolean): void {
    this.crd = present;
  }

  /** Changes the accepted bearer token (token rotation). */
  setToken(token: string): void {
    this.token = token;
  }

  /** Removes all `failNext`, `delay`, `forbid`, `denyAccess`, `authorize`, `echoCredentials` and `onRequest` rules. */
  clearFaults(): void {
    this.faults = [];
    this.delays.clear();
    this.forbids = [];
    this.deny = [];
    this.rules = undefined;
    this.echo = false;
    this.hooks = [];
  }

  // ----- request pipeline: log, delay, authenticate, forbid, inject faults, route

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const method = req.method ?? "GET";
    const p = new URL(req.url ?? "/", this.url).pathname;
    this.log.push({ method, path: p, at: Date.now() });
    const wait = Math.max(0, ...[...this.delays].filter(([prefix]) => p.startsWith(prefix)).map(([, ms]) => ms));
    if (wait > 0) {
      try {
        await sleep(wait, undefined, { signal: this.closing.signal });
      } catch {
        return; // stopped meanwhile: the connection is gone
      }
    }
    const hook = this.hooks.find((h) => h.method === method && p.startsWith(h.prefix));
    if (hook !== undefined) {
      this.hooks = this.hooks.filter((h) => h !== hook);
      hook.run();
    }
    const t = targetOf(method, p);
    try {
      const user = this.authenticate(req);
      if (user === undefined) throw this.echoed(req, new StatusError(401, "Unauthorized"));
      const refused = this.rules !== undefined && (t === undefined || !rulesAllow(this.rules, t));
      if (refused || this.forbids.some((f) => p.startsWith(f.prefix) && (f.method ?? method) === method)) {
        throw this.echoed(req, forbidden(t, user, p));
      }
      const fault = this.faults.find((f) => p.startsWith(f.pathPrefix ?? "") && (f.method ?? method) === method);
      if (fault !== undefined) {
        if (--fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
        throw injected(fault.status, t, fault);
      }
      const [code, out] = this.route(method, t, req.headers["content-type"], body);
      this.send(res, code, out);
    } catch (err) {
      if (!(err instanceof StatusError)) throw err;
      this.send(res, err.code, err.body, err.headers);
    }
  }

  /** With `echoCredentials`, the error's message repeats the request's Authorization header and its token. */
  private echoed(req: IncomingMessage, err: StatusError): StatusError {
    const auth = req.headers.authorization;
    if (!this.echo || auth === undefined) return err;
    const token = auth.replace(/^\S+\s+/, "");
    const details = err.body.details as Record<string, unknown> | undefined;
    return new StatusError(err.code, `${err.message} (request had "Authorization: ${auth}"; token ${token})`, details, err.headers);
  }

  /** The user: the CN of a client certificate signed by our CA, or the bearer token's user; undefined if neither. */
  private authenticate(req: IncomingMessage): string | undefined {
    const sock = req.socket as TLSSocket;
    // A resumed TLS session may say "authorized" without a certificate to show: then no certificate counts.
    const cn = sock.authorized ? sock.getPeerCertificate()?.subject?.CN : undefined;
    if (cn) return String(cn);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    return m !== null && m[1] === this.token ? TOKEN_USER : undefined;
  }

  private send(res: ServerResponse, code: number, out: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(out);
    res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  // ----- endpoints

  /** A protobuf write acknowledged (see acknowledgeProtobufWrites): an event as created, a pod as it is. */
  private acknowledged(method: string, t: Target): [number, unknown] {
    if (method === "POST" && `${t.prefix}/${t.resource}` === EVENTS) return [201, { kind: "Event", apiVersion: "v1", metadata: {} }];
    const pod = this.objects.get(`${t.prefix}/namespaces/${t.namespace}/${t.resource}/${t.name}`);
    if (method === "PUT" && t.subresource === "status" && pod !== undefined) return [200, pod];
    throw new StatusError(415, "unsupported media type");
  }

  private route(method: string, t: Target | undefined, contentType = "", body = ""): [number, unknown] {
    if (t === undefined) throw noSuchPath();
    if (this.protobufAck && contentType.startsWith("application/vnd.kubernetes.protobuf")) return this.acknowledged(method, t);
    const collection = `${t.prefix}/${t.resource}`;
    const allow = (m: string) => {
      if (method !== m) throw new StatusError(405, "the server does not allow this method on the requested resource", {});
    };
    if (collection === CRDS && t.name === CRD_NAME && t.namespace === undefined && t.subresource === undefined) {
      allow("GET");
      if (!this.crd) throw notFound(t);
      return [200, this.crdObject()];
    }
    if (collection === SSARS && t.name === undefined && t.namespace === undefined) {
      allow("POST");
      return [201, this.accessReview(parseJson(body))];
    }
    if (collection === EVENTS && t.namespace !== undefined && t.name === undefined && t.subresource === undefined) {
      allow("POST");
      return [201, this.createEvent(parseJson(body), t.namespace)];
    }
    const served = this.resources.has(collection) && (collection !== NADS || this.crd);
    if (!served || t.namespace === undefined || t.name === undefined) throw noSuchPath();
    const key = `${t.prefix}/namespaces/${t.namespace}/${t.resource}/${t.name}`;
    const current = this.objects.get(key);
    if (t.subresource === undefined) {
      allow("GET");
      if (current === undefined) throw notFound(t);
      return [200, current];
    }
    if (collection !== PODS || t.subresource !== "status") throw noSuchPath();
    if (method === "PUT") {
      if (current === undefined) throw notFound(t);
      const stored = this.updateStatus(current, parseJson(body), t);
      this.objects.set(key, stored);
      return [200, stored];
    }
    allow("PATCH");
    if (current === undefined) throw notFound(t);
    if (contentType.split(";")[0].trim().toLowerCase() !== "application/merge-patch+json") {
      // The real server also takes JSON patches and strategic merge patches; the plugin sends merge patches only.
      const accepted = "accepted media types include: application/merge-patch+json";
      throw new StatusError(415, `the body of the request was in an unknown format - ${accepted}`);
    }
    const stored = this.patchStatus(current, parseJson(body), t);
    this.objects.set(key, stored);
    return [200, stored];
  }

  /** core/v1 Event: in the URL's namespace, about an object, with a reason. */
  private createEvent(obj: unknown, namespace: string): KubeObject {
    const ev = obj as KubeObject & { involvedObject?: { kind?: string; name?: string }; reason?: unknown };
    const invalid = (field: string, why: string) =>
      new StatusError(422, `Event "${ev?.metadata?.name ?? ""}" is invalid: ${field}: ${why}`, { kind: "Event" });
    if (typeof ev !== "object" || ev === null || ev.kind !== "Event") throw new StatusError(400, "the body is not an Event", {});
    if (ev.metadata?.namespace !== undefined && ev.metadata.namespace !== namespace) {
      throw invalid("metadata.namespace", "does not match the namespace of the request");
    }
    if (!ev.involvedObject?.kind || !ev.involvedObject.name) throw invalid("involvedObject", "Required value");
    if (typeof ev.reason !== "string" || ev.reason === "") throw invalid("reason", "Required value");
    const stored = { ...ev, metadata: { ...ev.metadata, namespace, resourceVersion: String(++this.rv), uid: randomUUID() } } as KubeObject;
    this.created.push(stored);
    return stored;
  }

  /** A merge patch of pods/status: metadata preconditions, then metadata and status change, spec does not. */
  private patchStatus(current: KubeObject, patch: unknown, t: Target): KubeObject {
    if (!isObject(patch)) throw new StatusError(400, "a merge patch must be a JSON object");
    const next = mergePatch(current, patch) as KubeObject;
    const meta = isObject(next.metadata) ? next.metadata : current.metadata;
    if (meta.uid !== current.metadata.uid) {
      const message = `Precondition failed: UID in precondition: ${String(meta.uid)}, UID in object meta: ${current.metadata.uid}`;
      throw new StatusError(409, message);
    }
    if (meta.resourceVersion !== current.metadata.resourceVersion) throw conflict(t);
    if (!stringMap(meta.annotations) || !stringMap(meta.labels)) {
      throw new StatusError(400, "metadata.annotations and metadata.labels must map strings to strings");
    }
    const { name, namespace, creationTimestamp } = current.metadata;
    return {
      ...next,
      apiVersion: current.apiVersion,
      kind: current.kind,
      metadata: { ...meta, name, namespace, resourceVersion: String(++this.rv), creationTimestamp },
      spec: structuredClone(current.spec),
    };
  }

  /** An update (PUT) of pods/status: the body is the whole pod; uid and resourceVersion are preconditions; spec stays. */
  private updateStatus(current: KubeObject, obj: unknown, t: Target): KubeObject {
    if (!isObject(obj) || !isObject(obj.metadata)) throw new StatusError(400, "the body of an update must be a Pod with metadata");
    const meta = obj.metadata as KubeObject["metadata"];
    if (meta.name !== undefined && meta.name !== current.metadata.name) {
      throw new StatusError(
        400,
        `the name of the object (${String(meta.name)}) does not match the name on the URL (${current.metadata.name})`,
      );
    }
    // As kube-apiserver: a stale resourceVersion first (a replaced pod has a new one), then the UID.
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== current.metadata.resourceVersion) throw conflict(t);
    if (meta.uid !== undefined && meta.uid !== current.metadata.uid) {
      const message = `Precondition failed: UID in precondition: ${String(meta.uid)}, UID in object meta: ${current.metadata.uid}`;
      throw new StatusError(409, message);
    }
    if (!stringMap(meta.annotations) || !stringMap(meta.labels)) {
      throw new StatusError(400, "metadata.annotations and metadata.labels must map strings to strings");
    }
    const { name, namespace, uid, creationTimestamp } = current.metadata;
    return {
      ...(obj as KubeObject),
      apiVersion: current.apiVersion,
      kind: current.kind,
      metadata: { ...meta, name, namespace, uid, resourceVersion: String(++this.rv), creationTimestamp },
      spec: structuredClone(current.spec),
    };
  }

  private accessReview(review: unknown): unknown {
    if (!isObject(review) || !isObject(review.spec)) throw new StatusError(400, "SelfSubjectAccessReview needs a spec");
    const attrs: Record<string, unknown> = isObject(review.spec.resourceAttributes) ? review.spec.resourceAttributes : {};
    const denied =
      this.deny.some((rule) => Object.entries(rule).every(([k, v]) => v === undefined || (attrs[k] ?? "") === v)) ||
      (this.rules !== undefined && !rulesAllow(this.rules, attrs as ResourceAttributes));
    return {
      kind: "SelfSubjectAccessReview",
      apiVersion: "authorization.k8s.io/v1",
      metadata: { creationTimestamp: null },
      spec: review.spec,
      status: { allowed: !denied, reason: `${denied ? "denied" : "allowed"} by the test API server` },
    };
  }

  private crdObject(): unknown {
    const names = {
      plural: "network-attachment-definitions",
      singular: "network-attachment-definition",
      kind: "NetworkAttachmentDefinition",
    };
    return {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: CRD_NAME, resourceVersion: "1" },
      spec: { group: "k8s.cni.cncf.io", names, scope: "Namespaced", versions: [{ name: "v1", served: true, storage: true }] },
      status: { conditions: [{ type: "Established", status: "True" }], acceptedNames: names, storedVersions: ["v1"] },
    };
  }
}

/**
 * Starts a fake kube-apiserver on 127.0.0.1 with a random port and fresh certificates.
 *
 * @example
 * const api = await startApiServer();
 * t.teardown(() => api.stop());
 * api.putPod({ metadata: { namespace: "ns1", name: "pod1", annotations: { "k8s.v1.cni.cncf.io/networks": "net1" } } });
 * const kubeconfig = api.writeKubeconfig(dir, { auth: "token" });
 */
export async function startApiServer(): Promise<ApiServer> {
  const server = new ApiServer(await generateCerts());
  await server.listen();
  return server;
}
