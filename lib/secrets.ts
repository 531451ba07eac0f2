/**
 * The credentials this process holds (API token, token file contents, an
 * exec plugin's token or key, a client key, a basic-auth password), noted as
 * they are loaded (lib/k8s/kubeconfig.ts), and the one scrubber every string
 * that leaves the process passes: stdout (result or error), the log, pod
 * events, network-status and the CLI's output. An API server, a proxy or a
 * credential plugin may repeat a credential in what it answers; it must never
 * reach a pod event (readable by the namespace's tenants) or a log.
 */

export const REDACTED = "[redacted]";

/** Shorter values are not scrubbed: they would hit ordinary words (tokens, keys and their lines are far longer). */
const MIN_LENGTH = 8;

/** Every form a credential may appear in, longest first (a secret that holds another is removed whole). */
const known: string[] = [];

/** The forms of `value` to look for: as given, trimmed, each line (token files, PEM keys), JSON-escaped, base64. */
function formsOf(value: string): string[] {
  const forms = [value, value.trim(), ...value.split(/\r?\n/).map((l) => l.trim())];
  forms.push(...forms.map((f) => JSON.stringify(f).slice(1, -1)));
  // A key or token may also travel base64-encoded (kubeconfig *-data fields).
  forms.push(Buffer.from(value).toString("base64"), Buffer.from(value.trim()).toString("base64"));
  return forms;
}

/** Note a credential: from now on it is scrubbed from everything that leaves the process. */
export function noteSecret(value: string | Buffer | undefined): void {
  if (value === undefined) return;
  const text = typeof value === "string" ? value : value.toString("utf8");
  for (const f of formsOf(text)) if (f.length >= MIN_LENGTH && !known.includes(f)) known.push(f);
  known.sort((a, b) => b.length - a.length);
}

/** `text` with every noted credential replaced by [redacted]. */
export function scrub(text: string): string {
  if (known.length === 0 || text.length < MIN_LENGTH) return text;
  let out = text;
  for (const s of known) if (out.includes(s)) out = out.replaceAll(s, REDACTED);
  return out;
}

/**
 * Output of a process that may print credentials we have not seen (an exec
 * credential plugin's stderr): noted credentials are scrubbed, and so is every
 * long word that looks like a token or key (16+ characters of the base64/JWT
 * alphabet mixing letters and digits, or upper and lower case). Paths and
 * ordinary words stay readable.
 */
export function scrubUnknown(text: string): string {
  return scrub(text).replace(/[A-Za-z0-9+/=_.~-]{16,}/g, (w) => {
    const digit = /[0-9]/.test(w);
    const lower = /[a-z]/.test(w);
    const upper = /[A-Z]/.test(w);
    return (digit && (lower || upper)) || (lower && upper) ? REDACTED : w;
  });
}
