/**
 * lib/files.ts readRegularFile: what every config, record and credential
 * read goes through. A FIFO or a device where a file should be is refused at
 * once (never read, never waited on), and no file is read past its cap.
 */
import { execFileSync } from "node:child_process";
import { symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { FileReadError, readRegularFile, readRegularText } from "../lib/files.ts";
import { tempDir } from "./helpers/netns.ts";

function refusal(fn: () => unknown): FileReadError {
  try {
    fn();
  } catch (e) {
    if (e instanceof FileReadError) return e;
    throw e;
  }
  throw new Error("expected a FileReadError");
}

t.test("a regular file is read whole", async (t) => {
  const dir = tempDir(t);
  const f = join(dir, "conf.json");
  writeFileSync(f, '{"a":1}');
  t.equal(readRegularText(f), '{"a":1}');
  writeFileSync(f, "");
  t.equal(readRegularText(f), "", "an empty file is empty, not an error");
});

t.test("a missing file keeps its errno code", async (t) => {
  const e = refusal(() => readRegularFile(join(tempDir(t), "nope")));
  t.equal(e.code, "ENOENT");
  t.match(e.message, /nope cannot be opened \(ENOENT\)/);
});

t.test("a FIFO is refused at once, without a writer", async (t) => {
  const f = join(tempDir(t), "fifo");
  execFileSync("mkfifo", [f]);
  const e = refusal(() => readRegularFile(f));
  t.equal(e.code, "ENOTREG");
  t.match(e.message, /is a FIFO, not a regular file/);
});

t.test("a device is refused, never read", async (t) => {
  const e = refusal(() => readRegularFile("/dev/zero"));
  t.equal(e.code, "ENOTREG");
  t.match(e.message, /\/dev\/zero is a character device/);
  const link = join(tempDir(t), "kubeconfig");
  symlinkSync("/dev/zero", link);
  t.equal(refusal(() => readRegularFile(link)).code, "ENOTREG", "also behind a symlink");
});

t.test("a directory is refused", async (t) => {
  t.equal(refusal(() => readRegularFile(tempDir(t))).code, "ENOTREG");
});

t.test("nothing is read past the cap", async (t) => {
  const f = join(tempDir(t), "big");
  writeFileSync(f, Buffer.alloc(1001, 0x61));
  const e = refusal(() => readRegularFile(f, { maxBytes: 1000 }));
  t.equal(e.code, "EFBIG");
  t.match(e.message, /is larger than 1000 bytes/);
  t.equal(readRegularFile(f, { maxBytes: 1001 }).length, 1001, "exactly at the cap is fine");
});

t.test("nofollow refuses a symlink (files we own are never links)", async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, "real"), "x");
  symlinkSync(join(dir, "real"), join(dir, "link"));
  t.equal(readRegularText(join(dir, "link")), "x", "followed by default");
  const e = refusal(() => readRegularFile(join(dir, "link"), { nofollow: true }));
  t.equal(e.code, "ELOOP");
  t.match(e.message, /is a symbolic link/);
  symlinkSync(join(dir, "gone"), join(dir, "dangling"));
  t.equal(refusal(() => readRegularFile(join(dir, "dangling"), { nofollow: true })).code, "ELOOP", "a dangling one too");
});
