/**
 * Files laid out as a Go executable keeps its build info (what `go version
 * -m` prints), without being one: a test cannot depend on a Go toolchain or
 * on upstream's binaries being on the machine.
 *
 * A Go binary (1.18 and later) has a 32-byte header "\xff Go buildinf:",
 * pointer size, flags (2: strings inline), padding; then the Go version and
 * the module info, each led by its length as a uvarint. The module info is
 * framed by two 16-byte marks and starts with the `path` and `mod` lines.
 */
export const MODINFO_START = Buffer.from("3077af0c9274080241e1c107e6d618e6", "hex");
export const MODINFO_END = Buffer.from("f932433186182072008242104116d8f2", "hex");

function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

export interface GoBinaryLike {
  /** The main package, e.g. gopkg.in/k8snetworkplumbingwg/multus-cni.v4/cmd/multus. */
  path: string;
  module: string;
  version?: string;
  /** Where the build info header starts (default: so that the module info's start mark straddles the first 1 MiB). */
  at?: number;
  size?: number;
}

export function goBinaryLike(o: GoBinaryLike): Buffer {
  const goVersion = Buffer.from("go1.19.8");
  const modinfo = Buffer.concat([
    MODINFO_START,
    Buffer.from(
      `path\t${o.path}\nmod\t${o.module}\t${o.version ?? "(devel)"}\t\n` +
        "dep\tgithub.com/containernetworking/cni\tv1.2.0-rc1\t\ndep\tgithub.com/containernetworking/plugins\tv1.1.0\t\n",
    ),
    MODINFO_END,
  ]);
  const header = Buffer.alloc(32);
  header.write("\xff Go buildinf:", "latin1");
  header[14] = 8;
  header[15] = 2;
  const info = Buffer.concat([header, uvarint(goVersion.length), goVersion, uvarint(modinfo.length), modinfo]);
  // 32 + 1 + 8 + 2 bytes before the start mark: put the mark across the 1 MiB boundary.
  const at = o.at ?? (1 << 20) - 43 - 7;
  const size = Math.max(o.size ?? 2 << 20, at + info.length + 16);
  const file = Buffer.alloc(size, 0x90);
  Buffer.from("\x7fELF\x02\x01\x01", "latin1").copy(file, 0);
  info.copy(file, at);
  return file;
}
