/**
 * `multus doctor`: check a node the way an operator would, one line per
 * check, each failure with the fix. A check only looks: it writes, creates
 * and changes nothing on the node (files are read non-blocking and bounded,
 * lib/files.ts), so it is safe on a node in trouble.
 */
import { accessSync, constants, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { pluginTypeProblem } from "../delegate.ts";
import { FileReadError, readRegularFile } from "../files.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import { DEFAULT_CNI_DIR } from "../netconf.ts";
import { type ConfEntry, isMultusConfig, readConfDir, view } from "./conf-dir.ts";
import { delegateName } from "./conf-merge.ts";
import { describeUpstream, isThisProgram, upstreamMultus } from "./program-file.ts";

export interface DoctorOptions {
  binDir: string;
  confDir: string;
  kubeconfig?: string;
}

interface Check {
  /** "warn": worth knowing, not a failure (exit code 0). */
  level: "ok" | "warn" | "fail";
  /** "AREA: what was found" (areas: conf dir, config, conf, bin dir, cache dir, kubernetes, kubeconfig, api, crd, rbac). */
  what: string;
  fix?: string;
}

/** One check as `multus doctor --json` prints it. */
export interface CheckReport {
  level: Check["level"];
  area: string;
  message: string;
  fix?: string;
}

const report = (c: Check): CheckReport => {
  const at = c.what.indexOf(": ");
  return { level: c.level, area: c.what.slice(0, at), message: c.what.slice(at + 2), ...(c.fix ? { fix: c.fix } : {}) };
};

const ok = (what: string): Check => ({ level: "ok", what });
const fail = (what: string, fix: string): Check => ({ level: "fail", what, fix });

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

/** The first config (what the runtime runs) and every other file of the conf dir worth a word. */
function confChecks(confDir: string): { checks: Check[]; multus?: JsonObject; file?: string } {
  const entries = readConfDir(confDir);
  const checks: Check[] = [];
  const [first, ...rest] = entries;
  let multus: JsonObject | undefined;
  if (!first) checks.push(fail(`conf dir: no network config in ${confDir}`, "install the cluster network, then run multus install"));
  else checks.push(firstCheck(first));
  if (first?.kind === "json") {
    const v = view(first.value);
    if (v && !("problem" in v) && v.conf.type === "multus") multus = v.conf;
  }
  let multusSeen = first?.kind === "json" && isMultusConfig(first.value);
  for (const e of rest) {
    const isMultus = e.kind === "json" && isMultusConfig(e.value);
    if (e.kind === "unreadable")
      checks.push(
        fail(`conf dir: ${e.file} ${e.why}`, "remove it: a runtime that reads every config (CRI-O does) would block or fail on it"),
      );
    else if (isMultus && multusSeen)
      checks.push({
        level: "warn",
        what: `conf dir: ${e.file} is a second multus config: the runtime uses it if the first one goes`,
        fix: "run multus install (it sets a second multus config aside as FILE.old)",
      });
    multusSeen ||= isMultus;
  }
  return { checks, ...(multus && first ? { multus, file: first.file } : {}) };
}

function firstCheck(first: ConfEntry): Check {
  const head = `conf dir: ${first.file} comes first and`;
  if (first.kind === "unreadable") return fail(`${head} ${first.why}`, "remove it: the runtime loads the first config by name");
  if (first.kind === "unparsable") return fail(`${head} ${first.why}`, "fix it or move it away");
  const v = view(first.value);
  if (!v) return fail(`${head} is not multus`, "run multus install (it writes 00-multus.conf)");
  if ("problem" in v) return fail(`${head} ${v.problem}`, "run multus install --force (it writes a fresh multus config), or fix it");
  if (v.conf.type !== "multus")
    return fail(
      `${head} is upstream Multus's thick plugin config (type ${JSON.stringify(v.conf.type)}): it needs upstream's daemon`,
      "run multus install (it adopts the config)",
    );
  return ok(`${head} is multus`);
}

/** The validator's verdict on our conf and its delegates, and the multus inside multus it cannot see as a loop. */
async function configChecks(conf: JsonObject): Promise<Check[]> {
  const { validateInput, problemLine } = await import("../validate.ts");
  const a = validateInput({ netconf: conf });
  const fix = "multus validate FILE lists every problem; fix the conf";
  const out: Check[] = [];
  if (a.type === "invalid") out.push(...a.errors.map((p) => fail(`config: ${problemLine(p)}`, fix)));
  out.push(...a.warnings.map((p): Check => ({ level: "warn", what: `config: ${problemLine(p)}` })));
  const delegates = Array.isArray(conf.delegates) ? conf.delegates : [];
  delegates.forEach((d, i) => {
    if (isMultusConfig(d))
      out.push(
        fail(
          `conf: delegates[${i}] (${JSON.stringify(delegateName(d, i))}) is itself a multus config: multus would run inside multus`,
          i === 0 ? "run multus install (it takes a nested delegates[0] apart)" : `remove delegates[${i}] from "delegates"`,
        ),
      );
  });
  if (a.type === "valid" && !out.some((c) => c.level === "fail")) out.unshift(ok("config: the validator finds no error"));
  return out;
}

function binChecks(binDir: string, multus: JsonObject | undefined): Check[] {
  const out: Check[] = [];
  const self = join(binDir, "multus");
  try {
    accessSync(self, constants.X_OK);
    if (isThisProgram(self)) out.push(ok(`bin dir: ${self} is installed`));
    else {
      const up = upstreamMultus(self);
      out.push(
        up
          ? fail(`bin dir: ${self} is ${describeUpstream(up)}, not this program`, "run multus install (it replaces it)")
          : fail(`bin dir: ${self} is not this program`, "run multus install --force (it replaces it)"),
      );
    }
  } catch {
    out.push(fail(`bin dir: ${self} is missing or not executable`, "run multus install"));
  }
  for (const t of multus ? pluginTypes(multus) : []) {
    const bad = pluginTypeProblem(t);
    if (bad) {
      out.push(fail(`bin dir: plugin type ${bad}`, "use a bare plugin name in the config"));
      continue;
    }
    try {
      accessSync(join(binDir, t), constants.X_OK);
      out.push(ok(`bin dir: plugin "${t}" is installed`));
    } catch {
      out.push(fail(`bin dir: plugin "${t}" is not in ${binDir}`, `install the "${t}" CNI plugin into ${binDir}`));
    }
  }
  return out;
}

/** Whether ADD can write its records: the dir writable, or (not there yet) the dir that will hold it. Nothing is created. */
function cacheCheck(cniDir: string): Check {
  const fix = `run as root, or set "cniDir" to a writable dir`;
  // A relative dir would be judged against doctor's own working directory, not the runtime's.
  if (!isAbsolute(cniDir)) return fail(`cache dir: "${cniDir}" must be an absolute path`, `set "cniDir" to an absolute path`);
  let dir = cniDir;
  for (;;) {
    try {
      const st = statSync(dir);
      if (!st.isDirectory()) return fail(`cache dir: ${dir} is not a directory`, fix);
      accessSync(dir, constants.W_OK | constants.X_OK);
      return ok(
        dir === cniDir
          ? `cache dir: ${cniDir} is writable`
          : `cache dir: ${cniDir} does not exist yet; the first ADD creates it in ${dir}, which is writable`,
      );
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" || dirname(dir) === dir) return fail(`cache dir: ${cniDir} is not writable (${code})`, fix);
      dir = dirname(dir);
    }
  }
}

export async function doctor(o: DoctorOptions): Promise<{ lines: string[]; ok: boolean; checks: CheckReport[] }> {
  const conf = confChecks(o.confDir);
  const { multus } = conf;
  const checks: Check[] = [...conf.checks];
  if (multus) checks.push(...(await configChecks(multus)));
  checks.push(...binChecks(o.binDir, multus));
  checks.push(cacheCheck(typeof multus?.cniDir === "string" && multus.cniDir ? multus.cniDir : DEFAULT_CNI_DIR));

  const kubeconfig = o.kubeconfig ?? (typeof multus?.kubeconfig === "string" ? multus.kubeconfig : undefined);
  if (kubeconfig) checks.push(...(await apiChecks(kubeconfig)));
  else checks.push(ok("kubernetes: no kubeconfig (delegates mode): API checks skipped"));

  const tag = { ok: "ok  ", warn: "warn", fail: "FAIL" };
  const lines = checks.map((c) => `${tag[c.level]}  ${c.what}${c.fix ? `\n      fix: ${c.fix}` : ""}`);
  return { lines, ok: checks.every((c) => c.level !== "fail"), checks: checks.map(report) };
}

async function apiChecks(kubeconfig: string): Promise<Check[]> {
  const out: Check[] = [];
  if (!isAbsolute(kubeconfig)) return [fail(`kubeconfig: "${kubeconfig}" must be an absolute path`, "give the kubeconfig's absolute path")];
  try {
    readRegularFile(kubeconfig);
    out.push(ok(`kubeconfig: ${kubeconfig} is readable`));
  } catch (e) {
    const why = e instanceof FileReadError ? e.message.slice(kubeconfig.length + 1) : `cannot be read (${(e as Error).message})`;
    return [fail(`kubeconfig: ${kubeconfig} ${why}`, "fix the path or its permissions")];
  }
  const { createKubeClient } = await import("../k8s/client.ts");
  const { ApiError } = await import("../k8s/errors.ts");
  let client: Awaited<ReturnType<typeof createKubeClient>>;
  try {
    client = await createKubeClient({ kubeconfig, deadlineMs: 5000, maxAttempts: 2 });
  } catch (e) {
    return [...out, { level: "fail", what: `kubeconfig: ${(e as Error).message}`, fix: "regenerate the kubeconfig" }];
  }
  try {
    try {
      await client.get(
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/network-attachment-definitions.k8s.cni.cncf.io",
        "get the NetworkAttachmentDefinition CRD",
      );
      out.push(
        { level: "ok", what: "api: reachable and authenticated" },
        { level: "ok", what: "crd: network-attachment-definitions.k8s.cni.cncf.io is installed" },
      );
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        out.push({ level: "ok", what: "api: reachable and authenticated" });
        out.push({
          level: "fail",
          what: "crd: network-attachment-definitions.k8s.cni.cncf.io is not installed",
          fix: "kubectl apply -f manifests/crd-network-attachment-definition.yaml",
        });
      } else if (e instanceof ApiError && e.status === 403) {
        out.push({ level: "ok", what: "api: reachable and authenticated" });
        out.push({
          level: "fail",
          what: `crd: cannot read it: ${e.message}`,
          fix: "allow get on customresourcedefinitions, or check the CRD by hand",
        });
      } else {
        out.push({
          level: "fail",
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
            ? { level: "ok", what: `rbac: may ${name}` }
            : { level: "fail", what: `rbac: may not ${name}`, fix: "kubectl apply -f manifests/rbac.yaml (ClusterRole multus-onefile)" },
        );
      } catch (e) {
        out.push({
          level: "fail",
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
