/**
 * The sandbox ("pause") image for the containerd tests, made offline: a tiny
 * static C program built with the host's gcc, packed as an OCI image layout
 * tarball (oci-layout, index.json, blobs: one gzip layer, config, manifest)
 * that `ctr images import` accepts. Digests are computed here; nothing is
 * pulled from anywhere.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

export const PAUSE_IMAGE = "localhost/multus-test/pause:1";

/** Sleeps in pause(), reaps children (it is PID 1), exits 0 on SIGTERM/SIGINT. */
const PAUSE_C = `#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, 0, WNOHANG) > 0) {} }

int main(void) {
  struct sigaction q = {0}, r = {0};
  q.sa_handler = quit;
  r.sa_handler = reap;
  r.sa_flags = SA_NOCLDSTOP;
  sigaction(SIGTERM, &q, 0);
  sigaction(SIGINT, &q, 0);
  sigaction(SIGCHLD, &r, 0);
  for (;;) pause();
}
`;

interface TarEntry {
  name: string;
  /** undefined: a directory */
  data?: Buffer;
  mode?: number;
}

function octal(n: number, width: number): string {
  return `${n.toString(8).padStart(width - 1, "0")}\0`;
}

/** A POSIX ustar archive (enough for short names; fixed owner root and mtime 0, so it is reproducible). */
export function tar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const dir = e.data === undefined;
    const name = dir && !e.name.endsWith("/") ? `${e.name}/` : e.name;
    if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long: ${name}`);
    const size = e.data?.length ?? 0;
    const h = Buffer.alloc(512);
    h.write(name, 0);
    h.write(octal(e.mode ?? (dir ? 0o755 : 0o644), 8), 100);
    h.write(octal(0, 8), 108);
    h.write(octal(0, 8), 116);
    h.write(octal(size, 12), 124);
    h.write(octal(0, 12), 136);
    h.write("        ", 148); // checksum field counts as spaces
    h.write(dir ? "5" : "0", 156);
    h.write("ustar\0", 257);
    h.write("00", 263);
    h.write("root", 265);
    h.write("root", 297);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
    parts.push(h);
    if (e.data) {
      parts.push(e.data);
      const pad = (512 - (size % 512)) % 512;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

function ociArch(): string {
  const m: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };
  return m[process.arch] ?? process.arch;
}

/** The pause program, compiled statically. Throws with gcc's message when it cannot be built. */
export function buildPause(dir: string): Buffer {
  const src = join(dir, "pause.c");
  const bin = join(dir, "pause");
  writeFileSync(src, PAUSE_C);
  execFileSync("gcc", ["-static", "-Os", "-s", "-o", bin, src], { stdio: ["ignore", "ignore", "pipe"] });
  return readFileSync(bin);
}

/** An OCI image layout tarball with one image named `name` whose entrypoint is `/pause`. */
export function pauseImageTar(pause: Buffer, name = PAUSE_IMAGE): Buffer {
  const layerTar = tar([{ name: "pause", data: pause, mode: 0o755 }]);
  const layer = gzipSync(layerTar, { level: 9 });
  const arch = ociArch();
  const config = Buffer.from(
    JSON.stringify({
      architecture: arch,
      os: "linux",
      config: { Entrypoint: ["/pause"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [`sha256:${sha256(layerTar)}`] },
      history: [{ created_by: "tests/helpers/pause-image.ts" }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${sha256(config)}`, size: config.length },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: `sha256:${sha256(layer)}`, size: layer.length }],
    }),
  );
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: `sha256:${sha256(manifest)}`,
          size: manifest.length,
          platform: { architecture: arch, os: "linux" },
          annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.split(":").pop()! },
        },
      ],
    }),
  );
  const blob = (b: Buffer): TarEntry => ({ name: `blobs/sha256/${sha256(b)}`, data: b });
  return tar([
    { name: "oci-layout", data: Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" })) },
    { name: "index.json", data: index },
    { name: "blobs" },
    { name: "blobs/sha256" },
    blob(layer),
    blob(config),
    blob(manifest),
  ]);
}

let cached: string | undefined;
let cacheDir: string | undefined;
process.on("exit", () => {
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

/**
 * The image tarball's path: built once per test process in a temp dir that
 * is removed when the process exits.
 */
export function pauseImageFile(): string {
  if (cached) return cached;
  cacheDir = mkdtempSync(join(tmpdir(), "multus-pause-"));
  const file = join(cacheDir, "pause-image.tar");
  writeFileSync(file, pauseImageTar(buildPause(cacheDir)));
  cached = file;
  return file;
}
