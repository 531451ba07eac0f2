/**
 * Credentials for the API server from a kubeconfig (or in-cluster), built
 * from @kubernetes/client-node's own kubeconfig parsing (config_types); exec
 * plugins are run by exec-credential.ts. Only auth providers (OIDC, cloud)
 * load the library's full KubeConfig, which costs tens of milliseconds at
 * start-up. Every file is read as a bounded regular file (a FIFO or a
 * device named here cannot hold or grow us), and every credential is noted
 * for the scrubber (lib/secrets.ts) as it is loaded.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { type Cluster, newClusters, newContexts, newUsers, type User } from "@kubernetes/client-node/dist/config_types.js";
import { load as loadYaml } from "js-yaml";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { FileReadError, readRegularFile } from "../files.ts";
import { isJsonObject } from "../json.ts";
import { noteSecret } from "../secrets.ts";
import { type ExecClusterInfo, execCredential } from "./exec-credential.ts";

export interface Credentials {
  server: string;
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
  /** Lower-case header names (authorization ...). */
  headers: Record<string, string>;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

function invalid(msg: string): CniError {
  return new CniError(ErrorCode.InvalidNetworkConfig, msg);
}

/** Why a file could not be read, naming it: never its content. */
function readProblem(e: unknown): string {
  return e instanceof FileReadError ? e.message : `cannot be read (${(e as NodeJS.ErrnoException).code ?? "error"})`;
}

/** Read a file named by the kubeconfig, relative to its dir; the error names the field, never the content. */
function readRef(base: string, file: string, field: string): Buffer {
  const p = isAbsolute(file) ? file : resolve(base, file);
  try {
    return readRegularFile(p);
  } catch (e) {
    throw invalid(`kubeconfig: ${field} ${readProblem(e)}`);
  }
}

/** A file holding a credential (token, key): read, and noted for the scrubber. */
function readSecretRef(base: string, file: string, field: string): Buffer {
  const b = readRef(base, file, field);
  noteSecret(b);
  return b;
}

/** From now on `creds` never leave the process in anything we write. */
function noteCredentials(creds: Credentials): Credentials {
  noteSecret(creds.key);
  // The credential of "Bearer <token>" or "Basic <user:password>" (the scheme may show).
  for (const v of Object.values(creds.headers)) noteSecret(v.replace(/^(Bearer|Basic)\s+/i, ""));
  return creds;
}

function inCluster(): Credentials {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw invalid("no kubeconfig given and not running in a cluster (KUBERNETES_SERVICE_HOST is unset)");
  const token = readSecretRef(SA_DIR, "token", "service account token").toString().trim();
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    ca: readRef(SA_DIR, "ca.crt", "service account CA"),
    rejectUnauthorized: true,
    headers: { authorization: `Bearer ${token}` },
  };
}

interface RawUser {
  name?: string;
  user?: { tokenFile?: unknown };
}

export interface LoadOptions {
  /** How long an exec credential plugin may run. */
  execTimeoutMs?: number;
}

/** The kubeconfig as text: a bounded regular file. */
function readKubeconfig(path: string): string {
  try {
    return readRegularFile(path).toString("utf8");
  } catch (e) {
    throw invalid(`cannot load kubeconfig: ${readProblem(e)}`);
  }
}

export async function loadCredentials(path: string | undefined, opts: LoadOptions = {}): Promise<Credentials> {
  return noteCredentials(await load(path, opts));
}

async function load(path: string | undefined, opts: LoadOptions): Promise<Credentials> {
  if (!path) return inCluster();
  const text = readKubeconfig(path);
  noteInlineSecrets(text);
  let doc: Record<string, unknown>;
  try {
    doc = (loadYaml(text) ?? {}) as Record<string, unknown>;
  } catch (e) {
    throw invalid(`cannot load kubeconfig ${path}: ${(e as Error).message.split("\n")[0]}`);
  }
  const base = dirname(path);
  let clusters: Cluster[];
  let users: User[];
  let contexts: ReturnType<typeof newContexts>;
  try {
    clusters = newClusters(doc.clusters);
    users = newUsers(doc.users);
    contexts = newContexts(doc.contexts);
  } catch (e) {
    throw invalid(`cannot load kubeconfig ${path}: ${(e as Error).message}`);
  }
  const ctxName = doc["current-context"];
  const ctx = contexts.find((c) => c.name === ctxName) ?? (contexts.length === 1 ? contexts[0] : undefined);
  if (!ctx) throw invalid(`kubeconfig ${path} has no current context`);
  const cluster = clusters.find((c) => c.name === ctx.cluster);
  if (!cluster) throw invalid(`kubeconfig ${path}: context "${ctx.name}" names cluster "${ctx.cluster}", which is not defined`);
  const user = users.find((u) => u.name === ctx.user);

  if (user?.authProvider && user.authProvider.name !== "exec") return withFullKubeConfig(path, text, cluster);

  const creds: Credentials = {
    server: cluster.server,
    rejectUnauthorized: !cluster.skipTLSVerify,
    headers: {},
  };
  if (cluster.caData) creds.ca = Buffer.from(cluster.caData, "base64");
  else if (cluster.caFile) creds.ca = readRef(base, cluster.caFile, "certificate-authority");
  if (cluster.tlsServerName) creds.servername = cluster.tlsServerName;
  if (!user) return creds;
  const raw = (Array.isArray(doc.users) ? (doc.users as RawUser[]) : []).find((u) => u.name === user.name);
  await addUserCredentials(creds, user, raw, { path, base, cluster: rawCluster(doc, cluster), ...opts });
  return creds;
}

/** Inline credentials are noted before anything is parsed: a parse error may quote the file. */
function noteInlineSecrets(text: string): void {
  for (const m of text.matchAll(/(?:^|[\s{,])(?:token|password|client-key-data)\s*:\s*["']?([^"',}\s]+)/gm)) noteSecret(m[1]);
}

/** The cluster as an exec plugin may see it (KUBERNETES_EXEC_INFO spec.cluster). */
function rawCluster(doc: Record<string, unknown>, cluster: Cluster): ExecClusterInfo {
  const entry = (Array.isArray(doc.clusters) ? doc.clusters : []).find((c) => isJsonObject(c) && c.name === cluster.name);
  const c = isJsonObject(entry) && isJsonObject(entry.cluster) ? entry.cluster : {};
  const ext = Array.isArray(c.extensions)
    ? c.extensions.find((x) => isJsonObject(x) && x.name === "client.authentication.k8s.io/exec")
    : undefined;
  return {
    server: cluster.server,
    ...(cluster.tlsServerName ? { "tls-server-name": cluster.tlsServerName } : {}),
    ...(cluster.skipTLSVerify ? { "insecure-skip-tls-verify": true } : {}),
    ...(cluster.caData ? { "certificate-authority-data": cluster.caData } : {}),
    ...(cluster.proxyUrl ? { "proxy-url": cluster.proxyUrl } : {}),
    ...(isJsonObject(ext) && ext.extension !== undefined ? { config: ext.extension } : {}),
  };
}

interface UserContext extends LoadOptions {
  path: string;
  base: string;
  cluster: ExecClusterInfo;
}

/** Client certificate, token (inline, file or exec plugin) or basic auth of `user`. */
async function addUserCredentials(creds: Credentials, user: User, raw: RawUser | undefined, u: UserContext): Promise<void> {
  if (user.certData) creds.cert = Buffer.from(user.certData, "base64");
  else if (user.certFile) creds.cert = readRef(u.base, user.certFile, "client-certificate");
  if (user.keyData) creds.key = Buffer.from(user.keyData, "base64");
  else if (user.keyFile) creds.key = readSecretRef(u.base, user.keyFile, "client-key");

  if (user.token) creds.headers.authorization = `Bearer ${user.token.trim()}`;
  else if (user.username) {
    noteSecret(user.password);
    creds.headers.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
  } else {
    // `tokenFile` (the kubeconfig field kubectl writes) is read on every
    // start, so rotated (projected, bound) tokens are picked up.
    const tokenFile = raw?.user?.tokenFile;
    if (typeof tokenFile === "string" && tokenFile) {
      creds.headers.authorization = `Bearer ${readSecretRef(u.base, tokenFile, "tokenFile").toString().trim()}`;
    }
  }
  if (isJsonObject(user.exec)) {
    const got = await execCredential(user.exec, { kubeconfig: u.path, cluster: u.cluster, timeoutMs: u.execTimeoutMs ?? 20_000 });
    if (got.cert) creds.cert = got.cert;
    if (got.key) creds.key = got.key;
    if (got.token) creds.headers.authorization = `Bearer ${got.token}`;
  }
}

/** Auth providers (OIDC, cloud plugins): the library's full KubeConfig does the work, on the text already read. */
async function withFullKubeConfig(path: string, text: string, cluster: Cluster): Promise<Credentials> {
  const { KubeConfig } = await import("@kubernetes/client-node/dist/config.js");
  const kc = new KubeConfig();
  kc.loadFromString(text);
  kc.makePathsAbsolute(dirname(path));
  const o: {
    ca?: string | Buffer;
    cert?: string | Buffer;
    key?: string | Buffer;
    rejectUnauthorized?: boolean;
    headers?: Record<string, unknown>;
  } = {};
  try {
    await kc.applyToHTTPSOptions(o);
  } catch (e) {
    throw new CniError(ErrorCode.ApiFailure, `cannot get credentials for ${cluster.server}: ${(e as Error).message.split("\n")[0]}`);
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.headers ?? {})) headers[k.toLowerCase()] = String(v);
  return { server: cluster.server, ca: o.ca, cert: o.cert, key: o.key, rejectUnauthorized: o.rejectUnauthorized ?? true, headers };
}
