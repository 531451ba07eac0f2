/**
 * Kubernetes object names (apimachinery's validation): a namespace is a
 * DNS-1123 label, most object names (pods, NADs) DNS-1123 subdomains. A name
 * that is neither never reaches a request path.
 */

export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const LABEL_HINT = "must consist of lower case alphanumeric characters or '-', and start and end with an alphanumeric character";
export const SUBDOMAIN_HINT =
  "must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric character";

/** Why `s` is not a DNS-1123 label (at most 63 characters), or undefined when it is one. */
export function labelProblem(s: string): string | undefined {
  if (!DNS1123_LABEL.test(s)) return LABEL_HINT;
  return s.length > 63 ? "must be no more than 63 characters" : undefined;
}

/** Why `s` is not a DNS-1123 subdomain (at most 253 characters), or undefined when it is one. */
export function subdomainProblem(s: string): string | undefined {
  if (!DNS1123_SUBDOMAIN.test(s)) return SUBDOMAIN_HINT;
  return s.length > 253 ? "must be no more than 253 characters" : undefined;
}
