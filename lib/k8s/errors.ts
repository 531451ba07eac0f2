/** Kubernetes API failures, parsed from the API's `kind: Status` bodies. */
import { CniError, ErrorCode } from "../cni/errors.ts";
import { scrub } from "../secrets.ts";

export class ApiError extends CniError {
  /** HTTP status, or 0 when no answer came (connection error, timeout). */
  readonly status: number;
  /** The Status body's `reason` (NotFound, Conflict, Forbidden …). */
  readonly reason: string;
  /** Seconds the server asked us to wait (Retry-After), if any. */
  readonly retryAfter?: number;

  constructor(what: string, status: number, reason: string, message: string, retryAfter?: number) {
    super(
      status === 0 || status === 429 || status >= 500 ? ErrorCode.TryAgainLater : ErrorCode.ApiFailure,
      `${what}: ${status ? `${status} ${reason}: ` : ""}${message}`,
    );
    this.status = status;
    this.reason = reason;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }

  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/**
 * Build an ApiError from a response body that may or may not be a Status.
 * Credentials the body repeats (a proxy echoing the request) are scrubbed
 * before the excerpt is cut: a cut would leave a piece no scrubber knows.
 */
export function apiErrorFromResponse(what: string, status: number, text: string, retryAfter?: number): ApiError {
  const body = scrub(text);
  let reason = "";
  let message = body.trim().slice(0, 300);
  try {
    const s = JSON.parse(body) as { kind?: unknown; reason?: unknown; message?: unknown };
    if (s && s.kind === "Status") {
      if (typeof s.reason === "string") reason = s.reason;
      if (typeof s.message === "string") message = s.message;
    }
  } catch {
    // not JSON: keep the raw excerpt
  }
  if (!reason) reason = defaultReason(status);
  return new ApiError(what, status, reason, message || defaultReason(status), retryAfter);
}

function defaultReason(status: number): string {
  switch (status) {
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 429:
      return "TooManyRequests";
    default:
      return status >= 500 ? "InternalError" : "BadRequest";
  }
}
