/**
 * CNI error codes and the one error type every module throws.
 *
 * Codes 1-99 are reserved by the CNI spec; 100+ are ours. A CniError is
 * printed as `{"cniVersion","code","msg","details"}` on stdout by dispatch.
 */

export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  /** STATUS: the plugin cannot add containers now. */
  PluginUnavailable: 50,
  /** STATUS: unavailable, and existing containers may have limited connectivity. */
  PluginUnavailableLimited: 51,
  /** A delegate plugin failed (its own CNI error is kept in `details`). */
  DelegateFailed: 100,
  /** Our cache record could not be read or written. */
  CacheFailure: 101,
  /** The network namespace or an interface in it is not what we expect. */
  SandboxFailure: 102,
  /** The Kubernetes API could not be used. */
  ApiFailure: 103,
  /** The container already has attachments from an earlier ADD. */
  AlreadyAttached: 104,
  /** An unexpected internal failure (a bug). */
  Internal: 999,
} as const;

export class CniError extends Error {
  readonly code: number;
  readonly details?: string;

  constructor(code: number, msg: string, details?: string) {
    super(msg);
    this.name = "CniError";
    this.code = code;
    if (details !== undefined && details !== "") this.details = details;
  }

  /** The spec's error object. */
  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    const out: { cniVersion: string; code: number; msg: string; details?: string } = {
      cniVersion,
      code: this.code,
      msg: this.message,
    };
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

/** Normalise anything thrown into a CniError; never wraps a CniError twice. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof Error) return new CniError(ErrorCode.Internal, err.message);
  return new CniError(ErrorCode.Internal, String(err));
}
