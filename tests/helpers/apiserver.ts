/**
 * An in-process HTTPS server that answers like kube-apiserver for the handful of endpoints the plugin uses,
 * for tests that need a real network client, real TLS and real kubeconfig files.
 *
 * What it serves (JSON only):
 * - GET/PATCH/PUT `/api/v1/namespaces/{ns}/pods/{name}` and `.../pods/{name}/status`
 * - GET `/apis/k8s.cni.cncf.io/v1/namespaces/{ns}/network-attachment-definitions[/{name}]` (only while the
 *   CRD is "installed", see `setCrd`)
 * - GET of any object stored with `putObject` (for example legacy `Network` objects)
 * - GET `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/network-attachment-definitions.k8s.cni.cncf.io`
 * - POST `/apis/authorization.k8s.io/v1/selfsubjectaccessreviews`
 *
 * Authentication is a bearer token or a client certificate signed by the server's throwaway CA. Failures are
 * `kind: Status` bodies shaped like the real ones. Faults (`failNext`, `delay`, `forbid`) let tests drive the
 * client's error handling. Call `stop()` when done: it closes connections and deletes the certificates.
 */

import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { promisify } from "node:util";

const execFileP = promisify(execFile);

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

/** Any namespaced object the server stores. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
}

export interface PodObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** A pod to store: `metadata.name` and `metadata.namespace` are required, everything else is filled in. */
export interface PodInput extends PodObject {
  metadata: ObjectMeta & { namespace: string };
}

export interface NadObject extends KubeObject {
  spec?: { config?: string; [key: string]: unknown };
}

/** The `spec.resourceAttributes` of a SelfSubjectAccessReview; as a deny rule, absent fields match anything. */
export interface ResourceAttributes {
  namespace?: string;
  verb?: string;
  group?: string;
  version?: string;
  resource?: string;
  subresource?: string;
  name?: string;
}

export interface ApiServerOptions {
  /** The bearer token accepted. @default a random token */
  token?: string;
  /** User name of the token, shown in Forbidden messages. @default "system:serviceaccount:kube-system:multus" */
  tokenUser?: string;
  /** Common name (user name) of the generated client certificate. @default "system:multus:test-node" */
  clientCertUser?: string;
  /** Whether the NetworkAttachmentDefinition CRD is installed. @default true */
  crd?: boolean;
  /** SelfSubjectAccessReviews matching one of these rules are answered `allowed: false`. @default [] */
  deny?: ResourceAttributes[];
}

export interface KubeconfigOptions {
  auth: "token" | "tokenFile" | "clientCert";
  /** File name inside `dir`. @default `kubeconfig-<auth>.yaml` */
  fileName?: string;
  /** Token to write instead of the accepted one (for 401 tests). */
  token?: string;
  /** Embed the CA and client certificate as `*-data` (true) or write them as files beside the kubeconfig. @default true */
  inline?: boolean;
  /** Namespace of the context. */
  namespace?: string;
}

/** One request as the server saw it. */
export interface RequestRecord {
  method: string;
  /** The URL path without the query string, as sent (not percent-decoded). */
  path: string;
  /** The query string without `?`, or "". */
  query: string;
  /** Request headers, lower-case, without `authorization`. */
  headers: IncomingHttpHeaders;
  body: string;
  /** How the client authenticated, if it did. */
  auth: "token" | "clientCert" | "none";
  /** Response status; 0 while in flight or when the connection was reset on purpose. */
  status: number;
}

export interface FailOptions {
  /** Only requests whose path starts with this fail. @default "" (any path) */
  pathPrefix?: string;
  /** Only requests with this method fail (case-insensitive). @default any */
  method?: string;
  /** Seconds for the `Retry-After` header and `details.retryAfterSeconds`. @default 1 for 429, else none */
  retryAfter?: number;
  /** Status message to use instead of the standard one. */
  message?: string;
}

export interface ApiServer {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  readonly caPem: string;
  /** The bearer token currently accepted. */
  readonly token: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
  /** The temporary directory holding the certificates; removed by `stop()`. */
  readonly tempDir: string;
  /** Every request received, oldest first. */
  readonly requests: readonly RequestRecord[];
  /** Writes a kubeconfig for this server into `dir` and returns its path. */
  writeKubeconfig(dir: string, opts: KubeconfigOptions): string;
  /** Number of requests with `method` ("*" for any) whose path starts with `pathPrefix`. */
  counts(method: string, pathPrefix?: string): number;
  clearRequests(): void;
  /** Creates or replaces a pod; a replaced pod keeps its uid unless one is given. Returns the stored copy. */
  putPod(pod: PodInput): PodObject;
  getPod(namespace: string, name: string): PodObject | undefined;
  deletePod(namespace: string, name: string): boolean;
  /**
   * Creates or replaces a NetworkAttachmentDefinition. `config` is the `spec.config` string, a CNI config
   * object (serialised into `spec.config`) or, when it has `spec` or `metadata`, the object itself.
   */
  putNad(namespace: string, name: string, config: string | Record<string, unknown>): NadObject;
  getNad(namespace: string, name: string): NadObject | undefined;
  deleteNad(namespace: string, name: string): boolean;
  /**
   * Stores any namespaced object under `/<api|apis>/<groupVersion>/namespaces/<ns>/<plural>/<name>`, e.g.
   * `putObject("kubernetes.com/v1", "default", "networks", {metadata: {name: "flannel-conf"}, plugin: "flannel", args: "[...]"})`.
   * `groupVersion` is "v1" for the core group, "group/version", or a full prefix such as "/apis/group/version".
   */
  putObject(groupVersion: string, namespace: string, plural: string, obj: KubeObject): KubeObject;
  getObject(groupVersion: string, namespace: string, plural: string, name: string): KubeObject | undefined;
  /** Makes the resource known (so a missing object is a named NotFound) without storing an object. */
  registerResource(groupVersion: string, plural: string, kind?: string): void;
  /** The next `n` matching requests fail with `status` (a Status body), or have their connection reset. */
  failNext(n: number, status: number | "reset", opts?: FailOptions): void;
  /** Delays requests whose path starts with `pathPrefix` by `ms` before handling them; 0 removes the delay. */
  delay(ms: number, pathPrefix?: string): void;
  /** Requests whose path starts with `pathPrefix` (and with `method`, if given) get 403 Forbidden. */
  forbid(pathPrefix: string, method?: string): void;
  /** Adds a rule answered `allowed: false` by SelfSubjectAccessReview. */
  denyAccess(rule: ResourceAttributes): void;
  /** Installs or removes the NetworkAttachmentDefinition CRD. */
  setCrd(present: boolean): void;
  /** Changes the accepted bearer token (e.g. to test token rotation). */
  setToken(token: string): void;
  /** Removes all `failNext`, `delay`, `forbid` and deny rules (including `ApiServerOptions.deny`). */
  clearFaults(): void;
  /** Closes the server and all connections and deletes the temporary directory. Safe to call twice. */
  stop(): Promise<void>;
}

const NAD_GROUP = "k8s.cni.cncf.io";
const NAD_PLURAL = "network-attachment-definitions";
const NAD_PREFIX = `/apis/${NAD_GROUP}/v1`;
const CRD_NAME = `${NAD_PLURAL}.${NAD_GROUP}`;
const CRD_PATH = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAME}`;
const SSAR_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
/** Kinds of the resources tests are expected to store, used when an object does not say. */
const KNOWN_KINDS: Record<string, string> = {
  pods: "Pod",
  [NAD_PLURAL]: "NetworkAttachmentDefinition",
  networks: "Network",
};
const PATCH_TYPES = ["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"];

const OPENSSL_CNF = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = fake-kube-apiserver
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
authorityKeyIdentifier = keyid
[v3_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
authorityKeyIdentifier = keyid
`;

interface Certs {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  clientCertPem: string;
  clientKeyPem: string;
}

/** Generates a CA, a server certificate for 127.0.0.1 and a client certificate with the `openssl` CLI. */
async function generateCerts(dir: string, clientCN: string): Promise<Certs> {
  const cnf = path.join(dir, "openssl.cnf");
  await writeFile(cnf, OPENSSL_CNF);
  const run = (args: string[]) => execFileP("openssl", args, { cwd: dir });
  const newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await run(["req", "-x509", "-new", ...newKey, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
    "-subj", "/CN=fake-kube-apiserver-ca", "-config", cnf, "-extensions", "v3_ca"]);
  const leaf = async (name: string, cn: string, ext: string) => {
    await run(["req", "-new", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`, "-config", cnf]);
    await run(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key",
      "-set_serial", `0x${randomBytes(8).toString("hex")}`, "-days", "2", "-out", `${name}.crt`,
      "-extfile", cnf, "-extensions", ext]);
  };
  await Promise.all([leaf("server", "127.0.0.1", "v3_server"), leaf("client", clientCN, "v3_client")]);
  const read = (f: string) => readFile(path.join(dir, f), "utf8");
  const [caPem, serverCertPem, serverKeyPem, clientCertPem, clientKeyPem] = await Promise.all(
    ["ca.crt", "server.crt", "server.key", "client.crt", "client.key"].map(read),
  );
  return { caPem, serverCertPem, serverKeyPem, clientCertPem, clientKeyPem };
}

// ---------------------------------------------------------------------------------------------------------
// Status bodies

interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  retryAfterSeconds?: number;
  causes?: { message: string }[];
}

interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** A failure Status with the key order of real bodies (details, when present, before code). */
function statusBody(code: number, message: string, details?: StatusDetails): StatusBody {
  const reason = REASONS[code] ?? "Unknown";
  const head = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason } as const;
  return details === undefined ? { ...head, code } : { ...head, details, code };
}

/** Thrown inside handlers to answer with a Status body. */
class StatusError extends Error {
  constructor(
    readonly body: StatusBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Routing

interface ResourceInfo {
  prefix: string;
  group: string;
  version: string;
  plural: string;
  kind?: string;
  hasStatus: boolean;
  needsCrd: boolean;
}

/** What a request addresses, for routing and for Forbidden/NotFound messages. */
interface Target {
  verb: string;
  path: string;
  prefix?: string;
  group?: string;
  plural?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const NAMESPACED = /^\/(api\/v1|apis\/[^/]+\/[^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+)(?:\/([^/]+))?)?$/;

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function targetOf(method: string, p: string): Target {
  const m = NAMESPACED.exec(p);
  const verbs: Record<string, string> = { GET: "get", PATCH: "patch", PUT: "update", POST: "create", DELETE: "delete" };
  let verb = verbs[method] ?? method.toLowerCase();
  if (p === CRD_PATH) {
    return { verb, path: p, group: "apiextensions.k8s.io", plural: "customresourcedefinitions", name: CRD_NAME };
  }
  if (p === SSAR_PATH) return { verb, path: p, group: "authorization.k8s.io", plural: "selfsubjectaccessreviews" };
  if (m === null) return { verb, path: p };
  const prefix = `/${m[1]}`;
  const group = m[1] === "api/v1" ? "" : m[1].split("/")[1];
  if (m[4] === undefined && verb === "get") verb = "list";
  return {
    verb,
    path: p,
    prefix,
    group,
    namespace: decode(m[2]),
    plural: decode(m[3]),
    name: m[4] === undefined ? undefined : decode(m[4]),
    subresource: m[5] === undefined ? undefined : decode(m[5]),
  };
}

function resourceLabel(plural: string, group: string | undefined): string {
  return group ? `${plural}.${group}` : plural;
}

function notFound(t: Target): StatusError {
  if (t.plural === undefined || t.name === undefined) {
    return new StatusError(statusBody(404, "the server could not find the requested resource", {}));
  }
  const details: StatusDetails = { name: t.name };
  if (t.group) details.group = t.group;
  details.kind = t.plural;
  return new StatusError(statusBody(404, `${resourceLabel(t.plural, t.group)} "${t.name}" not found`, details));
}

function conflict(t: Target): StatusError {
  const details: StatusDetails = { name: t.name };
  if (t.group) details.group = t.group;
  details.kind = t.plural;
  return new StatusError(
    statusBody(
      409,
      `Operation cannot be fulfilled on ${resourceLabel(t.plural ?? "", t.group)} "${t.name}": the object has been modified; please apply your changes to the latest version and try again`,
      details,
    ),
  );
}

function forbidden(t: Target, user: string): StatusError {
  if (t.plural === undefined) {
    return new StatusError(statusBody(403, `forbidden: User "${user}" cannot ${t.verb} path "${t.path}"`, {}));
  }
  const res = t.subresource ? `${t.plural}/${t.subresource}` : t.plural;
  const subject = t.name === undefined ? resourceLabel(t.plural, t.group) : `${resourceLabel(t.plural, t.group)} "${t.name}"`;
  const where = t.namespace === undefined ? "at the cluster scope" : `in the namespace "${t.namespace}"`;
  const details: StatusDetails = {};
  if (t.name !== undefined) details.name = t.name;
  if (t.group) details.group = t.group;
  details.kind = t.plural;
  return new StatusError(
    statusBody(
      403,
      `${subject} is forbidden: User "${user}" cannot ${t.verb} resource "${res}" in API group "${t.group ?? ""}" ${where}`,
      details,
    ),
  );
}

function injected(code: number, t: Target, user: string, opts: FailOptions): StatusError {
  const headers: Record<string, string> = {};
  const retryAfter = opts.retryAfter ?? (code === 429 ? 1 : undefined);
  if (retryAfter !== undefined) headers["Retry-After"] = String(retryAfter);
  let err: StatusError;
  switch (code) {
    case 401:
      err = new StatusError(statusBody(401, "Unauthorized"));
      break;
    case 403:
      err = forbidden(t, user);
      break;
    case 404:
      err = notFound(t);
      break;
    case 409:
      err = conflict(t);
      break;
    case 429:
      err = new StatusError(statusBody(429, "Too many requests, please try again later.", {}));
      break;
    case 500:
      err = new StatusError(
        statusBody(500, "Internal error occurred: injected failure", { causes: [{ message: "injected failure" }] }),
      );
      break;
    case 503:
      err = new StatusError(statusBody(503, "the server is currently unable to handle the request", {}));
      break;
    case 504:
      err = new StatusError(
        statusBody(504, "the server was unable to return a response in the time allotted, but may still be processing the request", {}),
      );
      break;
    default:
      err = new StatusError(statusBody(code, `injected failure (${code})`, {}));
  }
  const details = retryAfter === undefined ? err.body.details : { ...(err.body.details ?? {}), retryAfterSeconds: retryAfter };
  return new StatusError(statusBody(code, opts.message ?? err.body.message, details), headers);
}

// ---------------------------------------------------------------------------------------------------------
// Patches

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Drops strategic-merge directives (`$patch`, `$setElementOrder/...`, ...) so the rest merges like RFC 7386. */
function stripDirectives(patch: unknown): unknown {
  if (Array.isArray(patch)) return patch.map(stripDirectives);
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) if (!k.startsWith("$")) out[k] = stripDirectives(v);
  return out;
}

class PatchError extends Error {}

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new PatchError(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (!isObject(v)) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, canonical(v[k])]),
  );
}

/** Resolves the parent container of `pointer` in `doc`; throws when a path element is missing. */
function parentOf(doc: unknown, tokens: string[], pointer: string, op: string): { parent: unknown; key: string } {
  let cur = doc;
  for (const tok of tokens.slice(0, -1)) {
    if (Array.isArray(cur) && /^\d+$/.test(tok) && Number(tok) < cur.length) cur = cur[Number(tok)];
    else if (isObject(cur) && Object.hasOwn(cur, tok)) cur = cur[tok];
    else throw new PatchError(`${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}`);
  }
  return { parent: cur, key: tokens[tokens.length - 1] };
}

function getAt(doc: unknown, pointer: string, op: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const { parent, key } = parentOf(doc, tokens, pointer, op);
  if (Array.isArray(parent) && /^\d+$/.test(key) && Number(key) < parent.length) return parent[Number(key)];
  if (isObject(parent) && Object.hasOwn(parent, key)) return parent[key];
  throw new PatchError(`${op} operation does not apply: doc is missing key: ${JSON.stringify(pointer)}`);
}

function removeAt(doc: unknown, pointer: string, op: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) throw new PatchError(`${op} operation cannot remove the whole document`);
  const { parent, key } = parentOf(doc, tokens, pointer, op);
  if (Array.isArray(parent) && /^\d+$/.test(key) && Number(key) < parent.length) return parent.splice(Number(key), 1)[0];
  if (isObject(parent) && Object.hasOwn(parent, key)) {
    const old = parent[key];
    delete parent[key];
    return old;
  }
  throw new PatchError(`${op} operation does not apply: doc is missing key: ${JSON.stringify(pointer)}`);
}

function addAt(doc: unknown, pointer: string, value: unknown, op: string, replace: boolean): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return clone(value);
  const { parent, key } = parentOf(doc, tokens, pointer, op);
  if (Array.isArray(parent)) {
    const idx = key === "-" ? parent.length : /^\d+$/.test(key) ? Number(key) : NaN;
    if (Number.isNaN(idx) || idx > parent.length || (replace && idx >= parent.length)) {
      throw new PatchError(`${op} operation does not apply: index out of range: ${JSON.stringify(pointer)}`);
    }
    parent.splice(idx, replace ? 1 : 0, clone(value));
  } else if (isObject(parent)) {
    if (replace && !Object.hasOwn(parent, key)) {
      throw new PatchError(`${op} operation does not apply: doc is missing key: ${JSON.stringify(pointer)}`);
    }
    parent[key] = clone(value);
  } else {
    throw new PatchError(`${op} operation does not apply: doc is missing path: ${JSON.stringify(pointer)}`);
  }
  return doc;
}

/** RFC 6902 JSON patch over a copy of `doc`. */
function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new StatusError(statusBody(400, "json patch must be a list of operations"));
  let out = clone(doc);
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string") {
      throw new StatusError(statusBody(400, `invalid json patch operation: ${JSON.stringify(raw)}`));
    }
    const { op, path: p } = raw;
    switch (op) {
      case "add":
      case "replace":
        if (!("value" in raw)) throw new StatusError(statusBody(400, `${op} operation has no "value"`));
        out = addAt(out, p, raw.value, op, op === "replace");
        break;
      case "remove":
        removeAt(out, p, op);
        break;
      case "test":
        if (!deepEqual(getAt(out, p, op), raw.value)) throw new PatchError(`testing value ${p} failed: test failed`);
        break;
      case "move":
      case "copy": {
        if (typeof raw.from !== "string") throw new StatusError(statusBody(400, `${op} operation has no "from"`));
        const v = op === "move" ? removeAt(out, raw.from, op) : clone(getAt(out, raw.from, op));
        out = addAt(out, p, v, op, false);
        break;
      }
      default:
        throw new StatusError(statusBody(400, `unexpected json patch operation ${JSON.stringify(op)}`));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// The server

interface FaultRule extends FailOptions {
  remaining: number;
  status: number | "reset";
}

function normalisePrefix(groupVersion: string): { prefix: string; group: string; version: string } {
  let gv = groupVersion.replace(/\/+$/, "");
  if (gv.startsWith("/apis/")) gv = gv.slice("/apis/".length);
  else if (gv.startsWith("/api/")) gv = gv.slice("/api/".length);
  const parts = gv.split("/");
  if (parts.length === 1) return { prefix: `/api/${parts[0]}`, group: "", version: parts[0] };
  if (parts.length === 2) return { prefix: `/apis/${gv}`, group: parts[0], version: parts[1] };
  throw new Error(`bad groupVersion ${JSON.stringify(groupVersion)}`);
}

/** Puts apiVersion, kind and metadata first, and name, namespace, uid, resourceVersion first in metadata. */
function ordered(obj: KubeObject): KubeObject {
  const { name, namespace, uid, resourceVersion, creationTimestamp, ...meta } = obj.metadata;
  const { apiVersion, kind, metadata: _m, ...rest } = obj;
  return {
    ...(apiVersion === undefined ? {} : { apiVersion }),
    ...(kind === undefined ? {} : { kind }),
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp, ...meta },
    ...rest,
  };
}

function stringMap(v: unknown): boolean {
  return v === undefined || (isObject(v) && Object.values(v).every((x) => typeof x === "string"));
}

function baseMediaType(header: string | undefined): string {
  return (header ?? "").split(";")[0].trim().toLowerCase();
}

class FakeApiServer implements ApiServer {
  readonly requests: RequestRecord[] = [];
  url = "";
  private server?: https.Server;
  private readonly objects = new Map<string, KubeObject>();
  private readonly resources = new Map<string, ResourceInfo>();
  private faults: FaultRule[] = [];
  private delays = new Map<string, number>();
  private forbids: { prefix: string; method?: string }[] = [];
  private deny: ResourceAttributes[];
  private crd: boolean;
  private rv = 1000;
  private stopping?: Promise<void>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private currentToken: string;
  private readonly tokenUser: string;
  private readonly crdUid = randomUUID();

  constructor(
    private readonly dir: string,
    private readonly certs: Certs,
    readonly clientCertUser: string,
    opts: ApiServerOptions,
  ) {
    this.currentToken = opts.token ?? randomBytes(24).toString("base64url");
    this.tokenUser = opts.tokenUser ?? "system:serviceaccount:kube-system:multus";
    this.crd = opts.crd ?? true;
    this.deny = [...(opts.deny ?? [])];
    this.registerResource("v1", "pods", "Pod");
    this.resources.get("/api/v1|pods")!.hasStatus = true;
    this.registerResource(`${NAD_GROUP}/v1`, NAD_PLURAL, "NetworkAttachmentDefinition");
    this.resources.get(`${NAD_PREFIX}|${NAD_PLURAL}`)!.needsCrd = true;
  }

  get caPem(): string {
    return this.certs.caPem;
  }
  get clientCertPem(): string {
    return this.certs.clientCertPem;
  }
  get clientKeyPem(): string {
    return this.certs.clientKeyPem;
  }
  get tempDir(): string {
    return this.dir;
  }
  get token(): string {
    return this.currentToken;
  }

  async listen(): Promise<void> {
    const server = https.createServer(
      {
        key: this.certs.serverKeyPem,
        cert: this.certs.serverCertPem,
        ca: this.certs.caPem,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => this.onRequest(req, res),
    );
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  // ----- kubeconfig

  writeKubeconfig(dir: string, opts: KubeconfigOptions): string {
    const file = path.join(dir, opts.fileName ?? `kubeconfig-${opts.auth}.yaml`);
    const base = path.basename(file).replace(/\.ya?ml$/, "");
    const inline = opts.inline ?? true;
    const q = (s: string) => JSON.stringify(s);
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const sideFile = (suffix: string, content: string, mode = 0o600): string => {
      const p = path.join(dir, `${base}.${suffix}`);
      writeFileSync(p, content, { mode });
      return p;
    };
    const cluster = inline
      ? `    certificate-authority-data: ${q(b64(this.caPem))}`
      : `    certificate-authority: ${q(sideFile("ca.crt", this.caPem, 0o644))}`;
    let user: string;
    switch (opts.auth) {
      case "token":
        user = `    token: ${q(opts.token ?? this.token)}`;
        break;
      case "tokenFile":
        user = `    tokenFile: ${q(sideFile("token", opts.token ?? this.token))}`;
        break;
      case "clientCert":
        user = inline
          ? `    client-certificate-data: ${q(b64(this.clientCertPem))}\n    client-key-data: ${q(b64(this.clientKeyPem))}`
          : `    client-certificate: ${q(sideFile("client.crt", this.clientCertPem))}\n    client-key: ${q(sideFile("client.key", this.clientKeyPem))}`;
        break;
    }
    const ns = opts.namespace === undefined ? "" : `\n    namespace: ${q(opts.namespace)}`;
    const yaml = `apiVersion: v1
kind: Config
clusters:
- name: fake-cluster
  cluster:
    server: ${q(this.url)}
${cluster}
users:
- name: fake-user
  user:
${user}
contexts:
- name: fake-context
  context:
    cluster: fake-cluster
    user: fake-user${ns}
current-context: fake-context
`;
    writeFileSync(file, yaml, { mode: 0o600 });
    return file;
  }

  // ----- request log

  counts(method: string, pathPrefix = ""): number {
    const m = method.toUpperCase();
    return this.requests.filter((r) => (m === "*" || r.method === m) && r.path.startsWith(pathPrefix)).length;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  // ----- object store

  registerResource(groupVersion: string, plural: string, kind?: string): void {
    const { prefix, group, version } = normalisePrefix(groupVersion);
    const key = `${prefix}|${plural}`;
    if (!this.resources.has(key)) {
      this.resources.set(key, { prefix, group, version, plural, kind: kind ?? KNOWN_KINDS[plural], hasStatus: false, needsCrd: false });
    }
  }

  putObject(groupVersion: string, namespace: string, plural: string, obj: KubeObject): KubeObject {
    const { prefix } = normalisePrefix(groupVersion);
    this.registerResource(groupVersion, plural, typeof obj.kind === "string" ? obj.kind : undefined);
    const info = this.resources.get(`${prefix}|${plural}`)!;
    const name = obj.metadata?.name;
    if (typeof name !== "string" || name === "") throw new Error("putObject: metadata.name is required");
    const key = this.key(prefix, namespace, plural, name);
    const old = this.objects.get(key);
    const { apiVersion, kind, metadata, ...rest } = clone(obj);
    const stored = ordered({
      apiVersion: apiVersion ?? (info.group === "" ? info.version : `${info.group}/${info.version}`),
      kind: kind ?? info.kind,
      metadata: {
        ...metadata,
        name,
        namespace,
        uid: metadata.uid ?? old?.metadata.uid ?? randomUUID(),
        resourceVersion: this.nextRv(),
        creationTimestamp: metadata.creationTimestamp ?? old?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      },
      ...rest,
    });
    this.objects.set(key, stored);
    return clone(stored);
  }

  getObject(groupVersion: string, namespace: string, plural: string, name: string): KubeObject | undefined {
    const obj = this.objects.get(this.key(normalisePrefix(groupVersion).prefix, namespace, plural, name));
    return obj === undefined ? undefined : clone(obj);
  }

  putPod(pod: PodInput): PodObject {
    return this.putObject("v1", pod.metadata.namespace, "pods", { spec: {}, status: {}, ...pod }) as PodObject;
  }

  getPod(namespace: string, name: string): PodObject | undefined {
    return this.getObject("v1", namespace, "pods", name) as PodObject | undefined;
  }

  deletePod(namespace: string, name: string): boolean {
    return this.objects.delete(this.key("/api/v1", namespace, "pods", name));
  }

  putNad(namespace: string, name: string, config: string | Record<string, unknown>): NadObject {
    let obj: KubeObject;
    if (typeof config === "string") obj = { metadata: { name }, spec: { config } };
    else if ("spec" in config || "metadata" in config) {
      const meta = isObject(config.metadata) ? config.metadata : {};
      obj = { ...config, metadata: { ...meta, name } };
    } else obj = { metadata: { name }, spec: { config: JSON.stringify(config) } };
    return this.putObject(`${NAD_GROUP}/v1`, namespace, NAD_PLURAL, obj) as NadObject;
  }

  getNad(namespace: string, name: string): NadObject | undefined {
    return this.getObject(`${NAD_GROUP}/v1`, namespace, NAD_PLURAL, name) as NadObject | undefined;
  }

  deleteNad(namespace: string, name: string): boolean {
    return this.objects.delete(this.key(NAD_PREFIX, namespace, NAD_PLURAL, name));
  }

  private key(prefix: string, namespace: string, plural: string, name: string): string {
    return `${prefix}/namespaces/${namespace}/${plural}/${name}`;
  }

  private nextRv(): string {
    this.rv += 1;
    return String(this.rv);
  }

  // ----- faults

  failNext(n: number, status: number | "reset", opts: FailOptions = {}): void {
    if (n > 0) this.faults.push({ ...opts, remaining: n, status });
  }

  delay(ms: number, pathPrefix = ""): void {
    if (ms > 0) this.delays.set(pathPrefix, ms);
    else this.delays.delete(pathPrefix);
  }

  forbid(pathPrefix: string, method?: string): void {
    this.forbids.push({ prefix: pathPrefix, method: method?.toUpperCase() });
  }

  denyAccess(rule: ResourceAttributes): void {
    this.deny.push({ ...rule });
  }

  setCrd(present: boolean): void {
    this.crd = present;
  }

  setToken(token: string): void {
    this.currentToken = token;
  }

  clearFaults(): void {
    this.faults = [];
    this.delays.clear();
    this.forbids = [];
    this.deny = [];
  }

  // ----- lifecycle

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
      const server = this.server;
      if (server !== undefined) {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      }
      rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  // ----- request handling

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void this.handle(req, res, Buffer.concat(chunks).toString("utf8")).catch((err: unknown) => {
        const msg = err instanceof Error ? err.message : String(err);
        if (!res.headersSent) this.send(res, undefined, 500, statusBody(500, `Internal error occurred: ${msg}`));
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const method = (req.method ?? "GET").toUpperCase();
    const headers = { ...req.headers };
    delete headers.authorization;
    const auth = this.authenticate(req);
    const record: RequestRecord = {
      method,
      path: url.pathname,
      query: url.search.replace(/^\?/, ""),
      headers,
      body,
      auth: auth?.how ?? "none",
      status: 0,
    };
    this.requests.push(record);

    const wait = this.delayFor(url.pathname);
    if (wait > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, wait);
        this.timers.add(timer);
      });
    }
    if (this.stopping !== undefined) return;

    const target = targetOf(method, url.pathname);
    try {
      if (auth === undefined) throw new StatusError(statusBody(401, "Unauthorized"));
      if (this.forbids.some((f) => url.pathname.startsWith(f.prefix) && (f.method === undefined || f.method === method))) {
        throw forbidden(target, auth.user);
      }
      const fault = this.faults.find(
        (f) => f.remaining > 0 && url.pathname.startsWith(f.pathPrefix ?? "") && (f.method === undefined || f.method.toUpperCase() === method),
      );
      if (fault !== undefined) {
        fault.remaining -= 1;
        this.faults = this.faults.filter((f) => f.remaining > 0);
        if (fault.status === "reset") {
          req.socket.destroy();
          return;
        }
        throw injected(fault.status, target, auth.user, fault);
      }
      const [code, out] = this.route(method, target, req.headers, body);
      this.send(res, record, code, out);
    } catch (err) {
      if (err instanceof StatusError) this.send(res, record, err.body.code, err.body, err.headers);
      else throw err;
    }
  }

  private authenticate(req: IncomingMessage): { how: "token" | "clientCert"; user: string } | undefined {
    const sock = req.socket as TLSSocket;
    if (sock.authorized) {
      const cn = sock.getPeerCertificate()?.subject?.CN;
      return { how: "clientCert", user: Array.isArray(cn) ? cn[0] : cn ?? this.clientCertUser };
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    if (m !== null && m[1] === this.currentToken) return { how: "token", user: this.tokenUser };
    return undefined;
  }

  private delayFor(p: string): number {
    let best = -1;
    let ms = 0;
    for (const [prefix, v] of this.delays) {
      if (p.startsWith(prefix) && prefix.length > best) {
        best = prefix.length;
        ms = v;
      }
    }
    return ms;
  }

  private send(res: ServerResponse, record: RequestRecord | undefined, code: number, out: unknown, headers: Record<string, string> = {}): void {
    if (record !== undefined) record.status = code;
    const text = JSON.stringify(out);
    res.writeHead(code, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  private route(method: string, t: Target, headers: IncomingHttpHeaders, body: string): [number, unknown] {
    if (t.path === CRD_PATH) {
      if (method !== "GET") throw this.methodNotAllowed();
      if (!this.crd) throw notFound(t);
      return [200, this.crdObject()];
    }
    if (t.path === SSAR_PATH) {
      if (method !== "POST") throw this.methodNotAllowed();
      return [201, this.accessReview(headers, body)];
    }
    if (t.prefix === undefined || t.plural === undefined || t.namespace === undefined) throw notFound({ verb: t.verb, path: t.path });
    const info = this.resources.get(`${t.prefix}|${t.plural}`);
    if (info === undefined || (info.needsCrd && !this.crd)) throw notFound({ verb: t.verb, path: t.path });

    if (t.name === undefined) {
      if (method !== "GET") throw this.methodNotAllowed();
      return [200, this.list(info, t.namespace)];
    }
    if (t.subresource !== undefined && !(t.subresource === "status" && info.hasStatus)) {
      throw notFound({ verb: t.verb, path: t.path });
    }
    const key = this.key(t.prefix, t.namespace, t.plural, t.name);
    const current = this.objects.get(key);
    switch (method) {
      case "GET":
        if (current === undefined) throw notFound(t);
        return [200, current];
      case "PATCH": {
        if (current === undefined) throw notFound(t);
        const next = this.patch(current, headers, body);
        return [200, this.commit(key, current, next, t, info)];
      }
      case "PUT": {
        if (current === undefined) throw notFound(t);
        return [200, this.commit(key, current, this.parseUpdate(headers, body, t, info), t, info)];
      }
      default:
        throw this.methodNotAllowed();
    }
  }

  private methodNotAllowed(): StatusError {
    return new StatusError(statusBody(405, "the server does not allow this method on the requested resource", {}));
  }

  private list(info: ResourceInfo, namespace: string): unknown {
    const prefix = `${info.prefix}/namespaces/${namespace}/${info.plural}/`;
    const items = [...this.objects.entries()].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
    return {
      apiVersion: info.group === "" ? info.version : `${info.group}/${info.version}`,
      kind: `${info.kind ?? "Object"}List`,
      metadata: { resourceVersion: String(this.rv) },
      items,
    };
  }

  private parseJsonBody(body: string): unknown {
    try {
      return JSON.parse(body) as unknown;
    } catch (err) {
      throw new StatusError(statusBody(400, `the request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`));
    }
  }

  private patch(current: KubeObject, headers: IncomingHttpHeaders, body: string): unknown {
    const type = baseMediaType(headers["content-type"]);
    if (!PATCH_TYPES.includes(type)) {
      throw new StatusError(
        statusBody(415, `the body of the request was in an unknown format - accepted media types include: ${PATCH_TYPES.join(", ")}`),
      );
    }
    const patch = this.parseJsonBody(body);
    if (type === "application/json-patch+json") {
      try {
        return jsonPatch(current, patch);
      } catch (err) {
        if (err instanceof PatchError) throw new StatusError(statusBody(422, err.message));
        throw err;
      }
    }
    if (!isObject(patch)) throw new StatusError(statusBody(400, "a merge patch must be a JSON object"));
    return mergePatch(current, type === "application/strategic-merge-patch+json" ? stripDirectives(patch) : patch);
  }

  private parseUpdate(headers: IncomingHttpHeaders, body: string, t: Target, info: ResourceInfo): unknown {
    if (baseMediaType(headers["content-type"]) !== "application/json") {
      throw new StatusError(
        statusBody(415, `the body of the request was in an unknown format - accepted media types include: application/json`),
      );
    }
    const next = this.parseJsonBody(body);
    if (!isObject(next) || !isObject(next.metadata)) throw new StatusError(statusBody(400, "the request body must be an object with metadata"));
    if (next.metadata.name !== undefined && next.metadata.name !== t.name) {
      throw new StatusError(statusBody(400, `the name of the object (${String(next.metadata.name)}) does not match the name on the URL (${t.name})`));
    }
    if (next.metadata.namespace !== undefined && next.metadata.namespace !== t.namespace) {
      throw new StatusError(statusBody(400, "the namespace of the provided object does not match the namespace sent on the request"));
    }
    const rv = next.metadata.resourceVersion;
    if (rv === undefined || rv === "") {
      throw new StatusError(
        statusBody(422, `${info.kind ?? t.plural} "${t.name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`),
      );
    }
    return next;
  }

  /** Checks preconditions and invariants, keeps what the endpoint may not change, bumps resourceVersion. */
  private commit(key: string, current: KubeObject, next: unknown, t: Target, info: ResourceInfo): KubeObject {
    if (!isObject(next) || !isObject(next.metadata)) throw new StatusError(statusBody(422, "the result is not an object with metadata"));
    const meta = next.metadata;
    if (meta.uid !== undefined && meta.uid !== current.metadata.uid) {
      throw new StatusError(
        statusBody(409, `Precondition failed: UID in precondition: ${String(meta.uid)}, UID in object meta: ${current.metadata.uid}`),
      );
    }
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== current.metadata.resourceVersion) throw conflict(t);
    if (!stringMap(meta.annotations) || !stringMap(meta.labels)) {
      throw new StatusError(statusBody(400, "metadata.annotations and metadata.labels must map strings to strings"));
    }
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = clone(next);
    const stored = ordered({
      apiVersion: current.apiVersion,
      kind: current.kind,
      metadata: {
        ...clone(meta),
        name: current.metadata.name,
        namespace: current.metadata.namespace,
        uid: current.metadata.uid,
        resourceVersion: this.nextRv(),
        creationTimestamp: current.metadata.creationTimestamp,
      },
      ...rest,
    });
    if (info.hasStatus) {
      // The status subresource changes metadata and status only; the main endpoint never changes status.
      if (t.subresource === "status") stored.spec = clone(current.spec);
      else stored.status = clone(current.status);
    }
    this.objects.set(key, stored);
    return stored;
  }

  private accessReview(headers: IncomingHttpHeaders, body: string): unknown {
    const type = baseMediaType(headers["content-type"]);
    if (type !== "application/json") {
      throw new StatusError(statusBody(415, "the body of the request was in an unknown format - accepted media types include: application/json"));
    }
    const review = this.parseJsonBody(body);
    if (!isObject(review) || !isObject(review.spec)) throw new StatusError(statusBody(400, "SelfSubjectAccessReview needs a spec"));
    const attrs = (isObject(review.spec.resourceAttributes) ? review.spec.resourceAttributes : {}) as Record<string, unknown>;
    const denied = this.deny.some((rule) =>
      Object.entries(rule).every(([k, v]) => v === undefined || (attrs[k] ?? "") === v),
    );
    return {
      kind: "SelfSubjectAccessReview",
      apiVersion: "authorization.k8s.io/v1",
      metadata: { creationTimestamp: null },
      spec: review.spec,
      status: denied ? { allowed: false, reason: "denied by the test API server" } : { allowed: true, reason: "allowed by the test API server" },
    };
  }

  private crdObject(): unknown {
    const names = {
      plural: NAD_PLURAL,
      singular: "network-attachment-definition",
      shortNames: ["net-attach-def"],
      kind: "NetworkAttachmentDefinition",
      listKind: "NetworkAttachmentDefinitionList",
    };
    return {
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: CRD_NAME, uid: this.crdUid, resourceVersion: "1", generation: 1 },
      spec: {
        group: NAD_GROUP,
        names,
        scope: "Namespaced",
        versions: [
          {
            name: "v1",
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: "object",
                properties: {
                  apiVersion: { type: "string" },
                  kind: { type: "string" },
                  metadata: { type: "object" },
                  spec: { type: "object", properties: { config: { type: "string" } } },
                },
              },
            },
          },
        ],
      },
      status: {
        conditions: [
          { type: "NamesAccepted", status: "True", reason: "NoConflicts" },
          { type: "Established", status: "True", reason: "InitialNamesAccepted" },
        ],
        acceptedNames: names,
        storedVersions: ["v1"],
      },
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
export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const dir = mkdtempSync(path.join(tmpdir(), "fake-apiserver-"));
  try {
    const clientCertUser = opts.clientCertUser ?? "system:multus:test-node";
    const certs = await generateCerts(dir, clientCertUser);
    const server = new FakeApiServer(dir, certs, clientCertUser, opts);
    await server.listen();
    return server;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
