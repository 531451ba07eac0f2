/**
 * The state upstream Multus v4.1.4 leaves on a node after an ADD, made real
 * in a test's own world: the ADD of tests/fixtures/upstream (see its
 * README.md), with the test's netns, temp dir, 10.x subnets and bridge
 * names in place of the fixture's. Either produced by running the
 * delegates ourselves and writing upstream's record and libcni's results
 * files in exactly the fixture's format, or by upstream's own binary.
 */
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ApiServer } from "./apiserver.ts";
import { cleanupLink, type Tap, uniqueName } from "./netns.ts";
import { CNI_BIN, ROOT, runPlugin } from "./run-plugin.ts";
import type { Scenario } from "./scenario.ts";

export const FIXTURE = join(ROOT, "tests", "fixtures", "upstream", "upstream-multus-v4.1.4");
export const CONTAINER_ID = "fxcontainer1";
const POD = { namespace: "default", name: "fx-pod", uid: "0e5f7b8c-6666-4a2b-9c3d-000000000006" };
export const POD_ARGS = `IgnoreUnknown=1;K8S_POD_NAMESPACE=${POD.namespace};K8S_POD_NAME=${POD.name};K8S_POD_INFRA_CONTAINER_ID=${CONTAINER_ID};K8S_POD_UID=${POD.uid}`;

export interface UpstreamWorld {
  /** The fixture's text with this world's paths, subnets and names. */
  sub(text: string): string;
  /** The fixture's netconf, made ours (kubeconfig: the given API server's). */
  netconf: Record<string, unknown>;
  cniDir: string;
  netns: string;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

/** The world for scenario `s` and netns `netns`; its bridges are removed at teardown. */
export function upstreamWorld(t: Tap, s: Scenario, netns: string, api: ApiServer): UpstreamWorld {
  const bridges = [uniqueName("mtbr"), uniqueName("mtbr")];
  for (const b of bridges) cleanupLink(t, b);
  const plain: [string, string][] = [
    ["/TMP", s.dir],
    ["/var/run/netns/POD", netns],
    ["10.219.70.", `${s.subnets[0].prefix}.`],
    ["10.219.71.", `${s.subnets[1].prefix}.`],
    ["10.219.72.", `${s.subnets[2].prefix}.`],
    ["barbrfx0", bridges[0]],
    ["barbrfx1", bridges[1]],
  ];
  const subPlain = (text: string) => plain.reduce((acc, [from, to]) => acc.replaceAll(from, to), text);
  // Base64 values (Bytes, config) carry the same names: substituted inside.
  const sub = (text: string) =>
    subPlain(text).replace(/"(Bytes|config)":"([A-Za-z0-9+/=]+)"/g, (_m, k, v) => `"${k}":"${b64(subPlain(unb64(v)))}"`);
  const kubeconfig = api.writeKubeconfig(s.dir, { auth: "token", fileName: "kc" });
  const netconf = JSON.parse(sub(readFileSync(join(FIXTURE, "netconf.json"), "utf8"))) as Record<string, unknown>;
  if (netconf.kubeconfig !== kubeconfig) throw new Error(`fixture netconf: kubeconfig ${netconf.kubeconfig}, expected ${kubeconfig}`);
  // Upstream writes network-status with a protobuf update the test server does not take; it skips
  // that write when the pod's *name* is in systemNamespaces (for us, that list names namespaces).
  netconf.systemNamespaces = [POD.name];
  return { sub, netconf, cniDir: join(s.dir, "cache"), netns };
}

/** The fixture's files under cniDir, as this world would have them (path relative to cniDir → content). */
export function fixtureFiles(w: UpstreamWorld): Map<string, string> {
  const base = join(FIXTURE, "cniDir-after-add");
  const names = [CONTAINER_ID, ...readdirSync(join(base, "results")).map((f) => `results/${f}`)];
  return new Map(names.map((n) => [n, w.sub(readFileSync(join(base, n), "utf8"))]));
}

/**
 * ADD by a reference plugin, as libcni runs it (no shell): `runtimeConfig`
 * for the capabilities the config declares. Returns its result.
 */
export function addAsLibcni(
  config: Record<string, unknown>,
  call: { containerId: string; netns: string; ifName: string; cniArgs: string; runtimeConfig?: Record<string, unknown> },
): Promise<Record<string, unknown>> {
  const caps = (config.capabilities ?? {}) as Record<string, boolean>;
  const rc = Object.fromEntries(Object.entries(call.runtimeConfig ?? {}).filter(([k]) => caps[k]));
  const stdin = JSON.stringify(Object.keys(rc).length ? { ...config, runtimeConfig: rc } : config);
  const env = {
    PATH: process.env.PATH ?? "",
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: call.containerId,
    CNI_NETNS: call.netns,
    CNI_IFNAME: call.ifName,
    CNI_ARGS: call.cniArgs,
    CNI_PATH: CNI_BIN,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(join(CNI_BIN, String(config.type)), [], { env });
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b));
    child.stderr.on("data", (b: Buffer) => (err += b));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`${config.type} ADD failed: ${out}${err}`))));
    child.stdin.end(stdin);
  });
}

/**
 * Upstream's ADD, done by hand: each delegate of the fixture's record runs
 * (libcni's way: its config as `Bytes` says, `runtimeConfig` for the
 * capabilities it declares, the fixture's CNI_ARGS), then the record and a
 * results file per attachment are written in the fixture's exact format.
 */
export async function simulateUpstreamAdd(w: UpstreamWorld): Promise<void> {
  const files = fixtureFiles(w);
  const record = files.get(CONTAINER_ID)!;
  mkdirSync(join(w.cniDir, "results"), { recursive: true, mode: 0o700 });
  const elements = JSON.parse(record) as { Bytes: string; ifnameRequest?: string }[];
  for (const [i, el] of elements.entries()) {
    const config = JSON.parse(unb64(el.Bytes)) as Record<string, unknown>;
    const ifName = el.ifnameRequest ?? (i === 0 ? "eth0" : `net${i}`);
    const name = `results/${config.name}-${CONTAINER_ID}-${ifName}`;
    const cached = JSON.parse(files.get(name)!) as { cniArgs: [string, string][]; capabilityArgs?: Record<string, unknown> };
    const result = await addAsLibcni(config, {
      containerId: CONTAINER_ID,
      netns: w.netns,
      ifName,
      cniArgs: cached.cniArgs.map(([k, v]) => `${k}=${v}`).join(";"),
      ...(cached.capabilityArgs ? { runtimeConfig: cached.capabilityArgs } : {}),
    });
    writeFileSync(join(w.cniDir, name), JSON.stringify({ ...cached, result }), { mode: 0o600 });
  }
  writeFileSync(join(w.cniDir, CONTAINER_ID), record, { mode: 0o600 });
}

/** The pod and NADs of the fixture's ADD, in `api`. */
export function putFixturePod(w: UpstreamWorld, api: ApiServer): void {
  const files = fixtureFiles(w);
  const elements = JSON.parse(files.get(CONTAINER_ID)!) as { Name: string; Bytes: string }[];
  for (const el of elements.slice(1)) {
    const [namespace, name] = el.Name.split("/");
    api.putNad(namespace, name, { spec: { config: unb64(el.Bytes) } }); // the exact text upstream executed
  }
  const networks = w.sub(
    '[{"name":"fx-br","interface":"data0","ips":["10.219.71.50/24"],"mac":"02:00:00:00:71:50"},{"name":"fx-ptp","namespace":"default"}]',
  );
  api.putPod({ metadata: { ...POD, annotations: { "k8s.v1.cni.cncf.io/networks": networks } } });
}

/** Upstream's ADD by upstream's binary (the API server must hold the fixture's pod). */
export async function upstreamBinaryAdd(w: UpstreamWorld, bin: string): Promise<void> {
  const r = await runPlugin({ bin, command: "ADD", containerId: CONTAINER_ID, netns: w.netns, args: POD_ARGS, stdin: w.netconf });
  if (r.code !== 0) throw new Error(`upstream ADD failed: ${r.stdout}${r.stderr}`);
}
