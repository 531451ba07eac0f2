/**
 * Credentials for the API server from a kubeconfig (or in-cluster), built
 * from @kubernetes/client-node's own kubeconfig parsing (config_types) and
 * exec-plugin support (exec_auth). Only auth providers (OIDC, cloud) load the
 * library's full KubeConfig, which costs tens of milliseconds at start-up.
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { type Cluster, newClusters, newContexts, newUsers, type User } from "@kubernetes/client-node/dist/config_types.js";
import { ExecAuth } from "@kubernetes/client-node/dist/exec_auth.js";
import { load as loadYaml } from "js-yaml";
import { CniError, ErrorCode } from "../cni/errors.ts";

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

/** Read a file named by the kubeconfig, relative to its dir; the error names the field, never the content. */
function readRef(base: string, file: string, field: string): Buffer {
  const p = isAbsolute(file) ? file : resolve(base, file);
  try {
    return readFileSync(p);
  } catch (e) {
    throw invalid(`kubeconfig: cannot read ${field} ${p}: ${(e as NodeJS.ErrnoException).code ?? "error"}`);
  }
}

function inCluster(): Credentials {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw invalid("no kubeconfig given and not running in a cluster (KUBERNETES_SERVICE_HOST is unset)");
  const token = readRef(SA_DIR, "token", "service account token").toString().trim();
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

export async function loadCredentials(path: string | undefined): Promise<Credentials> {
  if (!path) return inCluster();
  let doc: Record<string, unknown>;
  try {
    doc = (loadYaml(readFileSync(path, "utf8")) ?? {}) as Record<string, unknown>;
  } catch (e) {
    throw invalid(`cannot load kubeconfig ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message.split("\n")[0]}`);
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

  if (user?.authProvider && user.authProvider.name !== "exec") return withFullKubeConfig(path, cluster);

  const creds: Credentials = {
    server: cluster.server,
    rejectUnauthorized: !cluster.skipTLSVerify,
    headers: {},
  };
  if (cluster.caData) creds.ca = Buffer.from(cluster.caData, "base64");
  else if (cluster.caFile) creds.ca = readRef(base, cluster.caFile, "certificate-authority");
  if (cluster.tlsServerName) creds.servername = cluster.tlsServerName;
  if (!user) return creds;

  if (user.certData) creds.cert = Buffer.from(user.certData, "base64");
  else if (user.certFile) creds.cert = readRef(base, user.certFile, "client-certificate");
  if (user.keyData) creds.key = Buffer.from(user.keyData, "base64");
  else if (user.keyFile) creds.key = readRef(base, user.keyFile, "client-key");

  if (user.token) creds.headers.authorization = `Bearer ${user.token.trim()}`;
  else if (user.username) {
    creds.headers.authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ""}`).toString("base64")}`;
  } else {
    // `tokenFile` (the kubeconfig field kubectl writes) is read on every
    // start, so rotated (projected, bound) tokens are picked up.
    const raw = (Array.isArray(doc.users) ? (doc.users as RawUser[]) : []).find((u) => u.name === user.name);
    const tokenFile = raw?.user?.tokenFile;
    if (typeof tokenFile === "string" && tokenFile) {
      creds.headers.authorization = `Bearer ${readRef(base, tokenFile, "tokenFile").toString().trim()}`;
    }
  }
  if (user.exec) {
    const opts: { cert?: string; key?: string; headers?: Record<string, string> } = {};
    try {
      await new ExecAuth().applyAuthentication(user, opts);
    } catch (e) {
      throw new CniError(
        ErrorCode.ApiFailure,
        `kubeconfig ${path}: the exec credential plugin failed: ${(e as Error).message.split("\n")[0]}`,
      );
    }
    if (opts.cert) creds.cert = opts.cert;
    if (opts.key) creds.key = opts.key;
    const auth = opts.headers?.Authorization;
    if (auth) creds.headers.authorization = auth;
  }
  return creds;
}

/** Auth providers (OIDC, cloud plugins): the library's full KubeConfig does the work. */
async function withFullKubeConfig(path: string, cluster: Cluster): Promise<Credentials> {
  const { KubeConfig } = await import("@kubernetes/client-node/dist/config.js");
  const kc = new KubeConfig();
  kc.loadFromFile(path);
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
