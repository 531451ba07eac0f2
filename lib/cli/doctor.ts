/**
 * `multus doctor`: check a node the way an operator would, one line per
 * check, each failure with the fix.
 */
import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pluginTypeProblem } from "../delegate.ts";
import { confFiles } from "../files.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import { DEFAULT_CNI_DIR } from "../netconf.ts";

export interface DoctorOptions {
  binDir: string;
  confDir: string;
  kubeconfig?: string;
}

interface Check {
  ok: boolean;
  what: string;
  fix?: string;
}

function firstConf(confDir: string): { file: string; conf?: JsonObject } | undefined {
  let names: string[];
  try {
    names = confFiles(confDir);
  } catch {
    return undefined;
  }
  if (!names.length) return undefined;
  const file = join(confDir, names[0]);
  try {
    const v: unknown = JSON.parse(readFileSync(file, "utf8"));
    return { file, conf: isJsonObject(v) ? v : undefined };
  } catch {
    return { file };
  }
}

/** Every plugin type (and IPAM type) a config refers to. */
function pluginTypes(conf: JsonObject): string[] {
  const out = new Set<string>();
  const visit = (c: unknown) => {
    if (!isJsonObject(c)) return;
    if (typeof c.type === "string") out.add(c.type);
    if (isJsonObject(c.ipam) && typeof c.ipam.type === "string") out.add(c.ipam.type);
    if (Array.isArray(c.plugins)) c.plugins.forEach(visit);
  };
  if (Array.isArray(conf.delegates)) conf.delegates.forEach(visit);
  return [...out];
}

const RBAC: { verb: string; resource: string; group: string; subresource?: string }[] = [
  { verb: "get", resource: "pods", group: "" },
  { verb: "patch", resource: "pods", group: "", subresource: "status" },
  { verb: "get", resource: "network-attachment-definitions", group: "k8s.cni.cncf.io" },
  { verb: "create", resource: "events", group: "" },
];

export async function doctor(o: DoctorOptions): Promise<{ lines: string[]; ok: boolean }> {
  const checks: Check[] = [];
  const first = firstConf(o.confDir);
  const multus = first?.conf?.type === "multus" ? first.conf : undefined;
  if (!first)
    checks.push({
      ok: false,
      what: `conf dir: no network config in ${o.confDir}`,
      fix: "install the cluster network, then run multus install",
    });
  else if (!multus)
    checks.push({
      ok: false,
      what: `conf dir: ${first.file} comes first and is not multus`,
      fix: "run multus install (it writes 00-multus.conf)",
    });
  else checks.push({ ok: true, what: `conf dir: ${first.file} comes first and is multus` });

  const self = join(o.binDir, "multus");
  try {
    accessSync(self, constants.X_OK);
    checks.push({ ok: true, what: `bin dir: ${self} is installed` });
  } catch {
    checks.push({ ok: false, what: `bin dir: ${self} is missing or not executable`, fix: "run multus install" });
  }
  for (const t of multus ? pluginTypes(multus) : []) {
    const bad = pluginTypeProblem(t);
    if (bad) {
      checks.push({ ok: false, what: `plugin type ${bad}`, fix: "use a bare plugin name in the config" });
      continue;
    }
    try {
      accessSync(join(o.binDir, t), constants.X_OK);
      checks.push({ ok: true, what: `bin dir: plugin "${t}" is installed` });
    } catch {
      checks.push({
        ok: false,
        what: `bin dir: plugin "${t}" is not in ${o.binDir}`,
        fix: `install the "${t}" CNI plugin into ${o.binDir}`,
      });
    }
  }

  const cniDir = typeof multus?.cniDir === "string" ? multus.cniDir : DEFAULT_CNI_DIR;
  try {
    mkdirSync(cniDir, { recursive: true, mode: 0o700 });
    const probe = join(cniDir, `.doctor-${process.pid}`);
    writeFileSync(probe, "", { mode: 0o600 });
    rmSync(probe);
    checks.push({ ok: true, what: `cache dir: ${cniDir} is writable` });
  } catch (e) {
    checks.push({
      ok: false,
      what: `cache dir: ${cniDir} is not writable (${(e as NodeJS.ErrnoException).code})`,
      fix: `run as root, or set "cniDir" to a writable dir`,
    });
  }

  const kubeconfig = o.kubeconfig ?? (typeof multus?.kubeconfig === "string" ? multus.kubeconfig : undefined);
  if (kubeconfig) checks.push(...(await apiChecks(kubeconfig)));
  else checks.push({ ok: true, what: "kubernetes: no kubeconfig (delegates mode): API checks skipped" });

  const lines = checks.map((c) => `${c.ok ? "ok  " : "FAIL"}  ${c.what}${c.fix ? `\n      fix: ${c.fix}` : ""}`);
  return { lines, ok: checks.every((c) => c.ok) };
}

async function apiChecks(kubeconfig: string): Promise<Check[]> {
  const out: Check[] = [];
  try {
    readFileSync(kubeconfig);
    out.push({ ok: true, what: `kubeconfig: ${kubeconfig} is readable` });
  } catch (e) {
    return [
      {
        ok: false,
        what: `kubeconfig: cannot read ${kubeconfig} (${(e as NodeJS.ErrnoException).code})`,
        fix: "fix the path or its permissions",
      },
    ];
  }
  const { createKubeClient } = await import("../k8s/client.ts");
  const { ApiError } = await import("../k8s/errors.ts");
  let client: Awaited<ReturnType<typeof createKubeClient>>;
  try {
    client = await createKubeClient({ kubeconfig, deadlineMs: 5000, maxAttempts: 2 });
  } catch (e) {
    return [...out, { ok: false, what: `kubeconfig: ${(e as Error).message}`, fix: "regenerate the kubeconfig" }];
  }
  try {
    try {
      await client.get(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/network-attachment-definitions.k8s.cni.cncf.io",
        "get the NetworkAttachmentDefinition CRD",
      );
      out.push(
        { ok: true, what: "api: reachable and authenticated" },
        { ok: true, what: "crd: network-attachment-definitions.k8s.cni.cncf.io is installed" },
      );
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        out.push({ ok: true, what: "api: reachable and authenticated" });
        out.push({
          ok: false,
          what: "crd: network-attachment-definitions.k8s.cni.cncf.io is not installed",
          fix: "kubectl apply -f manifests/crd-network-attachment-definition.yaml",
        });
      } else if (e instanceof ApiError && e.status === 403) {
        out.push({ ok: true, what: "api: reachable and authenticated" });
        out.push({
          ok: false,
          what: `crd: cannot read it: ${e.message}`,
          fix: "allow get on customresourcedefinitions, or check the CRD by hand",
        });
      } else {
        out.push({
          ok: false,
          what: `api: ${(e as Error).message}`,
          fix: "check the server address, the network path and the credentials in the kubeconfig",
        });
        return out;
      }
    }
    for (const r of RBAC) {
      const name = `${r.verb} ${r.resource}${r.subresource ? `/${r.subresource}` : ""}`;
      try {
        const ans = await client.post(
          "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
          {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SelfSubjectAccessReview",
            spec: {
              resourceAttributes: {
                verb: r.verb,
                resource: r.resource,
                group: r.group,
                ...(r.subresource ? { subresource: r.subresource } : {}),
              },
            },
          },
          `review access: ${name}`,
        );
        const allowed = isJsonObject(ans.status) && ans.status.allowed === true;
        out.push(
          allowed
            ? { ok: true, what: `rbac: may ${name}` }
            : { ok: false, what: `rbac: may not ${name}`, fix: "kubectl apply -f manifests/rbac.yaml (ClusterRole multus-onefile)" },
        );
      } catch (e) {
        out.push({
          ok: false,
          what: `rbac: cannot review ${name}: ${(e as Error).message}`,
          fix: "allow create on selfsubjectaccessreviews",
        });
      }
    }
  } finally {
    await client.close();
  }
  return out;
}
