// The documentation: the troubleshooting table is generated from the source
// and must be current; every relative link in README.md and docs/ resolves.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import t from "tap";
import { ROOT } from "./helpers/run-plugin.ts";

t.test("docs/reference.md's troubleshooting table lists every error message in lib/", async (t) => {
  t.doesNotThrow(() => execFileSync(process.execPath, [join(ROOT, "scripts/errors-doc.mjs"), "--check"], { stdio: "pipe" }));
});

const pages = ["README.md", "manifests/README.md", ...readdirSync(join(ROOT, "docs")).map((f) => `docs/${f}`)];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
const anchor = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");

t.test("every relative link in README.md and docs/ points at a file (and heading) that exists", async (t) => {
  for (const page of pages) {
    const text = readFileSync(join(ROOT, page), "utf8");
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue; // http:, mailto: ...
      const [file, hash] = target.split("#");
      const path = file ? join(ROOT, dirname(page), file) : join(ROOT, page);
      t.ok(existsSync(path), `${page}: ${target} exists`);
      if (hash && existsSync(path)) {
        const headings = [...readFileSync(path, "utf8").matchAll(/^#+ (.*)$/gm)].map((m) => anchor(m[1]));
        t.ok(headings.includes(hash), `${page}: ${target} names a heading`);
      }
    }
  }
});

t.test("the front page links every page of docs/", async (t) => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  for (const f of readdirSync(join(ROOT, "docs"))) t.ok(readme.includes(`(docs/${f})`), `README.md links docs/${f}`);
});
