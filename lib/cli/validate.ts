/**
 * `multus validate FILE...`: lint netconfs, conflists and YAML manifests
 * (NetworkAttachmentDefinitions, legacy Network objects, pods' network
 * annotations) with the same validator the plugin runs before attaching.
 */
import { readFileSync } from "node:fs";
import { loadAll } from "js-yaml";
import { CniError } from "../cni/errors.ts";
import { isMultusPluginType } from "../delegate.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import { legacyNetworkToConf } from "../k8s/networks.ts";
import { LEGACY_NETWORKS_ANNOTATION, NETWORKS_ANNOTATION, parseLegacyNetworks, parseNetworkSelections } from "../selection.ts";
import { type Problem, type ValidatorInput, validateInput } from "../validate.ts";

export interface Finding {
  file: string;
  /** The object inside the file, e.g. "NetworkAttachmentDefinition ns1/macvlan". */
  object?: string;
  severity: "error" | "warning";
  path: string;
  message: string;
}

function findingsOf(file: string, object: string | undefined, input: ValidatorInput): Finding[] {
  const a = validateInput(input);
  const make =
    (severity: Finding["severity"]) =>
    (p: Problem): Finding => ({ file, ...(object ? { object } : {}), severity, path: p.path, message: p.message });
  return [...(a.type === "invalid" ? a.errors.map(make("error")) : []), ...a.warnings.map(make("warning"))];
}

/**
 * Our netconf, when the file holds one: a conf of type multus, or a
 * conflist of one Multus plugin (upstream's installer writes that), as the
 * runtime hands that plugin its config (with the list's name and version).
 */
function netconfOf(v: JsonObject): JsonObject | undefined {
  if (v.type === "multus" || Array.isArray(v.delegates) || typeof v.kubeconfig === "string") return v;
  const plugins = Array.isArray(v.plugins) ? v.plugins : [];
  const [only] = plugins;
  if (plugins.length !== 1 || !isJsonObject(only) || !isMultusPluginType(only.type)) return undefined;
  return { ...only, name: v.name, ...(v.cniVersion === undefined ? {} : { cniVersion: v.cniVersion }) };
}

function jsonFile(file: string, v: unknown): Finding[] {
  if (!isJsonObject(v)) return [{ file, severity: "error", path: "", message: "must be a JSON object (a netconf, conf or conflist)" }];
  const netconf = netconfOf(v);
  if (netconf) return findingsOf(file, undefined, { netconf });
  return findingsOf(file, undefined, { attachments: [{ path: "", config: v }] });
}

function manifestDoc(file: string, doc: unknown, i: number): Finding[] {
  if (!isJsonObject(doc)) return [];
  const meta = isJsonObject(doc.metadata) ? doc.metadata : {};
  const ns = typeof meta.namespace === "string" ? meta.namespace : "default";
  const name = typeof meta.name === "string" ? meta.name : `document ${i + 1}`;
  const object = `${String(doc.kind)} ${ns}/${name}`;
  const err = (path: string, message: string): Finding[] => [{ file, object, severity: "error", path, message }];
  switch (doc.kind) {
    case "NetworkAttachmentDefinition": {
      const spec = isJsonObject(doc.spec) ? doc.spec : {};
      if (spec.config === undefined) return []; // taken from a conf file on the node
      if (typeof spec.config !== "string") return err("spec.config", "must be a string holding the CNI config JSON");
      let conf: unknown;
      try {
        conf = JSON.parse(spec.config);
      } catch (e) {
        return err("spec.config", `is not valid JSON: ${(e as Error).message}`);
      }
      if (isJsonObject(conf) && (conf.name === undefined || conf.name === "")) conf = { ...conf, name };
      return findingsOf(file, object, { attachments: [{ path: "spec.config", config: conf as JsonObject }] });
    }
    case "Network": {
      try {
        return findingsOf(file, object, { attachments: [{ path: "", config: legacyNetworkToConf(doc, object, name) }] });
      } catch (e) {
        return err("", (e as Error).message.replace(`${object}: `, ""));
      }
    }
    case "Pod": {
      const ann = isJsonObject(meta.annotations) ? meta.annotations : {};
      const out: Finding[] = [];
      for (const [key, parse] of [
        [NETWORKS_ANNOTATION, (v: string) => parseNetworkSelections(v, ns)],
        [LEGACY_NETWORKS_ANNOTATION, (v: string) => parseLegacyNetworks(v)],
      ] as const) {
        const v = ann[key];
        if (typeof v !== "string") continue;
        try {
          parse(v);
        } catch (e) {
          if (!(e instanceof CniError)) throw e;
          out.push(...err(`metadata.annotations[${key}]`, e.message.replace(`${key}: `, "")));
        }
      }
      return out;
    }
    default:
      return [];
  }
}

export function validateFile(file: string): Finding[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    return [{ file, severity: "error", path: "", message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }];
  }
  if (/\.ya?ml$/.test(file)) {
    let docs: unknown[];
    try {
      docs = loadAll(text);
    } catch (e) {
      return [{ file, severity: "error", path: "", message: `is not valid YAML: ${(e as Error).message.split("\n")[0]}` }];
    }
    return docs.flatMap((d, i) => manifestDoc(file, d, i));
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return [{ file, severity: "error", path: "", message: `is not valid JSON: ${(e as Error).message}` }];
  }
  return jsonFile(file, v);
}

export function formatFinding(f: Finding): string {
  const where = [f.file, f.object, f.path].filter(Boolean).join(": ");
  return `${f.severity === "warning" ? "warning: " : ""}${where}: ${f.message}`;
}
