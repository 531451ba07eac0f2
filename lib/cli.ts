/** What a person sees when running the file by hand (no CNI_COMMAND). */
import { SUPPORTED_VERSIONS } from "./cni/version.ts";

declare const MULTUS_VERSION: string | undefined;

export const PRODUCT_VERSION: string = typeof MULTUS_VERSION === "string" ? MULTUS_VERSION : "0.0.0-dev";

export const USAGE = `multus ${PRODUCT_VERSION}: a meta CNI plugin that attaches several networks to one pod.

It is run by the container runtime with CNI_COMMAND (ADD, DEL, CHECK, STATUS,
GC, VERSION) and the network config on stdin. Copy this one file into the
runtime's plugin dir (usually /opt/cni/bin) and name it as "type" in a config.

By hand:
  multus --help      this text
  multus version     the plugin's version and the CNI versions it speaks

Example (legacy delegates mode):
  echo '{"cniVersion":"1.0.0","name":"multi","type":"multus","delegates":[
          {"type":"bridge","bridge":"br0","ipam":{"type":"host-local","subnet":"10.10.0.0/24"}},
          {"type":"ptp","ipam":{"type":"host-local","subnet":"10.11.0.0/24"}}]}' |
  CNI_COMMAND=ADD CNI_CONTAINERID=demo CNI_NETNS=/run/netns/demo CNI_IFNAME=eth0 \\
  CNI_PATH=/opt/cni/bin multus

CNI protocol versions supported: ${SUPPORTED_VERSIONS.join(", ")}
`;

export type CliAnswer = { stdout: string; exitCode: number } | undefined;

/** Handle human flags; undefined means "not a human invocation". */
export function cli(argv: readonly string[]): CliAnswer {
  const a = argv[0];
  if (a === undefined) return undefined;
  if (a === "--help" || a === "-h" || a === "help") return { stdout: USAGE, exitCode: 0 };
  if (a === "version" || a === "--version" || a === "-v") {
    return { stdout: `multus ${PRODUCT_VERSION} (CNI ${SUPPORTED_VERSIONS.join(", ")})\n`, exitCode: 0 };
  }
  return { stdout: `unknown argument "${a}"\n\n${USAGE}`, exitCode: 2 };
}
