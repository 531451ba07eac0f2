/**
 * `multus validate FILE|DIR...`: lint netconfs, conflists and YAML manifests
 * (NetworkAttachmentDefinitions, legacy Network objects, pods' network
 * annotations) with the same validator the plugin runs before attaching.
 * Each problem names its file, and the line and column of the value the
 * rule rejects (or of a syntax error). Files given together are checked
 * together too: each pod against the NADs and the netconf given with it
 * (./validate-pods.ts).
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { CniError } from "../cni/errors.ts";
import { isMultusPluginType } from "../delegate.ts";
import { FileReadError, readRegularText } from "../files.ts";
import { isJsonObject, type JsonObject } from "../json.ts";
import { positionAt, syntaxError, valueOffset } from "../json-position.ts";
import { legacyNetworkToConf } from "../k8s/networks.ts";
import { LEGACY_NETWORKS_ANNOTATION, NETWORKS_ANNOTATION, parseLegacyNetworks, parseNetworkSelections } from "../selection.ts";
import { type Problem, type ValidatorInput, validateInput } from "../validate.ts";
import { view } from "./conf-dir.ts";
import { indexYaml, type YamlIndex } from "./yaml-index.ts";

export interface Finding {
  file: string;
  /** Where in the file (1-based), when known. */
  line?: number;
  column?: number;
  /** The object inside the file, e.g. "NetworkAttachmentDefinition ns1/macvlan". */
  object?: string;
  severity: "error" | "warning";
  path: string;
  message: string;
}

/** A manifest object the cross-file checks look at. */
export interface ManifestObject {
  file: string;
  kind: string;
  namespace: string;
  name: string;
  value: JsonObject;
  /** The file offset of a string value of this object (its last occurrence, after `key`), or of the object itself. */
  offsetOf(value?: string, key?: string): number;
  /** The file offset of character `offset` of the string `value` (the value of `key`). */
  offsetIn(value: string, offset: number, key: string): number;
  /** The text of the file (offsets index it). */
  text: string;
}

/** A multus netconf given among the files: pods are resolved with it. */
export interface GivenNetconf {
  file: string;
  conf: JsonObject;
}

interface FileResult {
  findings: Finding[];
  objects?: ManifestObject[];
  netconf?: GivenNetconf;
}

const at = (text: string, offset: number | undefined): Pick<Finding, "line" | "column"> => {
  if (offset === undefined) return {};
  const p = positionAt(text, offset);
  return { line: p.line, column: p.column };
};

/** The validator's verdict as findings; `locate` gives the file offset of a problem's path. */
function findingsOf(
  file: string,
  object: string | undefined,
  input: ValidatorInput,
  locate: (path: string) => number | undefined,
  text: string,
): Finding[] {
  const a = validateInput(input);
  const make =
    (severity: Finding["severity"]) =>
    (p: Problem): Finding => ({
      file,
      ...at(text, locate(p.path)),
      ...(object ? { object } : {}),
      severity,
      path: p.path,
      message: p.message,
    });
  return [...(a.type === "invalid" ? a.errors.map(make("error")) : []), ...a.warnings.map(make("warning"))];
}

function jsonFile(file: string, text: string): FileResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    const s = syntaxError(text);
    const message = `is not valid JSON: ${s ? s.message : (e as Error).message}`;
    return { findings: [{ file, ...at(text, s?.offset), severity: "error", path: "", message }] };
  }
  const locate = (path: string) => valueOffset(text, path);
  if (!isJsonObject(v))
    return {
      findings: [{ file, ...at(text, 0), severity: "error", path: "", message: "must be a JSON object (a netconf, conf or conflist)" }],
    };
  // A conflist whose plugins[0] is multus (what install adopts in place): the plugin's netconf is that object, with the list's name and cniVersion.
  const m = Array.isArray(v.plugins) ? view(v) : undefined;
  if (m && !("problem" in m) && m.shape === "conflist") {
    const inList = (p: string) => (p ? `plugins[0].${p}` : "plugins[0]");
    const findings = findingsOf(file, undefined, { netconf: m.conf }, (p) => locate(inList(p)), text).map((f) => ({
      ...f,
      path: inList(f.path),
    }));
    return { findings, netconf: { file, conf: m.conf } };
  }
  if (isMultusPluginType(v.type) || Array.isArray(v.delegates) || typeof v.kubeconfig === "string")
    return { findings: findingsOf(file, undefined, { netconf: v }, locate, text), netconf: { file, conf: v } };
  return { findings: findingsOf(file, undefined, { attachments: [{ path: "", config: v }] }, locate, text) };
}

/** A NAD's spec.config: its JSON, checked as a delegate, with positions inside the YAML string mapped to the file. */
function nadConfig(o: ManifestObject, object: string, config: string): Finding[] {
  const { file, text } = o;
  const place = (offset: number) => o.offsetIn(config, offset, "config");
  let conf: unknown;
  try {
    conf = JSON.parse(config);
  } catch (e) {
    const s = syntaxError(config);
    const message = `is not valid JSON: ${s ? s.message : (e as Error).message}`;
    return [{ file, ...at(text, place(s?.offset ?? 0)), object, severity: "error", path: "spec.config", message }];
  }
  if (isJsonObject(conf) && (conf.name === undefined || conf.name === "")) conf = { ...conf, name: o.name };
  const locate = (path: string) => place(valueOffset(config, path.replace(/^spec\.config\.?/, "")) ?? 0);
  return findingsOf(file, object, { attachments: [{ path: "spec.config", config: conf as JsonObject }] }, locate, text);
}

function manifestDoc(o: ManifestObject): Finding[] {
  const { file, text, value: doc } = o;
  const object = `${o.kind} ${o.namespace}/${o.name}`;
  const err = (path: string, message: string, offset = o.offsetOf()): Finding[] => [
    { file, ...at(text, offset), object, severity: "error", path, message },
  ];
  switch (o.kind) {
    case "NetworkAttachmentDefinition": {
      const spec = isJsonObject(doc.spec) ? doc.spec : {};
      if (spec.config === undefined) return []; // taken from a conf file on the node
      if (typeof spec.config !== "string") return err("spec.config", "must be a string holding the CNI config JSON");
      return nadConfig(o, object, spec.config);
    }
    case "Network": {
      try {
        return findingsOf(
          file,
          object,
          { attachments: [{ path: "", config: legacyNetworkToConf(doc, object, o.name) }] },
          () => o.offsetOf(),
          text,
        );
      } catch (e) {
        return err(
          "",
          (e as Error).message.replace(`${object}: `, ""),
          typeof doc.args === "string" ? o.offsetOf(doc.args, "args") : o.offsetOf(),
        );
      }
    }
    case "Pod": {
      const meta = isJsonObject(doc.metadata) ? doc.metadata : {};
      const ann = isJsonObject(meta.annotations) ? meta.annotations : {};
      const out: Finding[] = [];
      for (const [key, parse] of [
        [NETWORKS_ANNOTATION, (v: string) => parseNetworkSelections(v, o.namespace)],
        [LEGACY_NETWORKS_ANNOTATION, (v: string) => parseLegacyNetworks(v)],
      ] as const) {
        const v = ann[key];
        if (typeof v !== "string") continue;
        try {
          parse(v);
        } catch (e) {
          if (!(e instanceof CniError)) throw e;
          out.push(...err(`metadata.annotations[${key}]`, e.message.replace(`${key}: `, ""), o.offsetOf(v, key)));
        }
      }
      return out;
    }
    default:
      return [];
  }
}

function yamlFile(file: string, text: string): FileResult {
  let index: YamlIndex;
  try {
    index = indexYaml(text);
  } catch (e) {
    const mark = (e as { mark?: { position?: number } }).mark;
    // js-yaml's message ends with its own "(line:column)": said in front instead.
    const message = `is not valid YAML: ${(e as Error).message.split("\n")[0].replace(/ \(\d+:\d+\)$/, "")}`;
    return { findings: [{ file, ...at(text, mark?.position), severity: "error", path: "", message }] };
  }
  const objects: ManifestObject[] = [];
  index.docs.forEach((doc, i) => {
    if (!isJsonObject(doc)) return;
    const meta = isJsonObject(doc.metadata) ? doc.metadata : {};
    objects.push({
      file,
      text,
      kind: String(doc.kind),
      namespace: typeof meta.namespace === "string" ? meta.namespace : "default",
      name: typeof meta.name === "string" ? meta.name : `document ${i + 1}`,
      value: doc,
      offsetOf: (value, key) => (value === undefined ? undefined : index.offsetIn(i, value, 0, key)) ?? index.docStart(i),
      offsetIn: (value, offset, key) => index.offsetIn(i, value, offset, key) ?? index.docStart(i),
    });
  });
  return { findings: objects.flatMap(manifestDoc), objects };
}

export function validateFile(file: string): FileResult {
  let text: string;
  try {
    text = readRegularText(file);
  } catch (e) {
    const code = e instanceof FileReadError ? e.code : ((e as NodeJS.ErrnoException).code ?? (e as Error).message);
    // Not a regular file, or too large: said as such; otherwise the errno, as node reports it.
    const message = code === "ENOTREG" || code === "EFBIG" ? (e as Error).message.slice(file.length + 1) : `cannot read: ${code}`;
    return { findings: [{ file, severity: "error", path: "", message }] };
  }
  return /\.ya?ml$/.test(file) ? yamlFile(file, text) : jsonFile(file, text);
}

/** The files a DIR stands for: its configs and manifests, subdirs included (symlinked dirs are not followed). */
const VALIDATED = /\.(conf|conflist|json|ya?ml)$/;
const MAX_FILES = 10_000;

function expand(path: string, out: string[]): void {
  let isDir = false;
  try {
    isDir = lstatSync(path).isDirectory();
  } catch {
    // not there: validateFile says so
  }
  if (!isDir) {
    out.push(path);
    return;
  }
  const names = readdirSync(path).sort();
  for (const n of names) {
    if (out.length >= MAX_FILES) return;
    const p = join(path, n);
    let st: ReturnType<typeof lstatSync>;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) expand(p, out);
    else if (VALIDATED.test(n)) out.push(p);
  }
}

/** Every file of `paths` (a dir for its files), each alone, then together. */
export async function validatePaths(paths: readonly string[]): Promise<{ files: string[]; findings: Finding[] }> {
  const files: string[] = [];
  for (const p of paths) expand(p, files);
  const results = files.map(validateFile);
  const findings = results.flatMap((r) => r.findings);
  const objects = results.flatMap((r) => r.objects ?? []);
  if (objects.some((o) => o.kind === "Pod")) {
    const { checkPods } = await import("./validate-pods.ts");
    findings.push(...(await checkPods(objects, results.find((r) => r.netconf)?.netconf)));
  }
  return { files, findings };
}

export function formatFinding(f: Finding): string {
  const file = f.line === undefined ? f.file : `${f.file}:${f.line}:${f.column}`;
  const where = [file, f.object, f.path].filter(Boolean).join(": ");
  return `${f.severity === "warning" ? "warning: " : ""}${where}: ${f.message}`;
}
