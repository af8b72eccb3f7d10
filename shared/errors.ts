/**
 * The errors that cross the port boundary. Adapters translate each SDK's own errors into these,
 * so use cases never look at an SDK error class or an HTTP response.
 */
export class ServiceError extends Error {
  constructor(
    message: string,
    /** The HTTP status the service answered, when there was one. */
    readonly status: number | undefined,
    /** The service's own error code (`errorCode`), when it gave one. */
    readonly code?: string | number,
  ) {
    super(message);
    this.name = 'ServiceError';
  }
}

/** 404: the thing is not there. */
export class NotFoundError extends ServiceError {
  constructor(message: string, code?: string | number) {
    super(message, 404, code);
    this.name = 'NotFoundError';
  }
}

/** 409 on create, or 412 on If-Match: someone else got there first. */
export class ConflictError extends ServiceError {
  constructor(message: string, status: 409 | 412, code?: string | number) {
    super(message, status, code);
    this.name = 'ConflictError';
  }
}

/** 429: the service's quota is spent. `retryAfterMs` is the service's Retry-After when it sent one. */
export class ThrottledError extends ServiceError {
  constructor(
    message: string,
    readonly retryAfterMs: number | undefined,
    code?: string | number,
  ) {
    super(message, 429, code);
    this.name = 'ThrottledError';
  }
}

/**
 * A fault that may pass if the same call is made again: a lost connection (reset, refused, timed out — the request
 * may or may not have been applied), 408, 449 (Cosmos RetryWith) or a 5xx. Retried only where the operation is
 * idempotent (`retryIdempotent`); `status` is undefined when no answer came.
 */
export class TransientError extends ServiceError {
  /** The store that failed, where a caller must tell it apart (Cosmos DB holds the checkpoints work resumes from). */
  service?: 'cosmos';

  constructor(message: string, status: number | undefined, code?: string | number) {
    super(message, status, code);
    this.name = 'TransientError';
  }
}

/** Statuses that say "try again": 408 timeout, 449 RetryWith (Cosmos), 500, 502, 503, 504. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 449, 500, 502, 503, 504]);

/** Node's codes for a connection that broke or never came: the answer, if any, is lost. */
const CONNECTION_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

/** True for an error that says the connection was lost (no HTTP answer to go by). */
export function isConnectionLost(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined;
  if (!e) return false;
  if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return true;
  if (typeof e.message === 'string' && /socket hang up|ECONNRESET|other side closed|ECONNREFUSED/i.test(e.message))
    return true;
  return e.cause !== undefined && e.cause !== err && isConnectionLost(e.cause);
}

/** 401/403 from a service: our identity lacks the right. Never retried. */
export class AccessDeniedError extends ServiceError {
  constructor(message: string, status: 401 | 403, code?: string | number) {
    super(message, status, code);
    this.name = 'AccessDeniedError';
  }
}

/**
 * 403 JobQuotaExceeded from IoT Hub: another import or export job is running on the hub (one at a time, on every
 * tier). Not an access problem and not throttling: wait for the running job, then try again.
 */
export class JobQuotaExceededError extends ServiceError {
  constructor(message: string) {
    super(message, 403, 'JobQuotaExceeded');
    this.name = 'JobQuotaExceededError';
  }
}

/**
 * What a caller sent is wrong (a malformed body, a bad parameter): thrown by parsing and validation, answered 400 at
 * the HTTP edge with its message as the reason. Not a ServiceError: no service was asked.
 */
export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

/** A body larger than the route takes: answered 413 before it is parsed. */
export class PayloadTooLargeError extends ValidationError {
  /** `hint` says what to do instead (another route for bigger files). */
  constructor(
    readonly limitBytes: number,
    hint = '',
  ) {
    super(`The body is larger than ${limitBytes} bytes${hint}.`);
    this.name = 'PayloadTooLargeError';
  }
}

/**
 * A service accepted an action (its 202 came) but following the action's operation to its end failed — the poll was
 * throttled past every try, answered 4xx/5xx, said `Failed`, or never ended: whether the action happened is not
 * known. Deliberately not a ServiceError (nor a ThrottledError): a caller that sends again on those would act twice,
 * and an irreversible action (ADR's revokeAndRotate) must never be sent again on this one — read the resource again.
 */
export class OutcomeUnknownError extends Error {
  constructor(
    message: string,
    /** The operation that was being followed (`Azure-AsyncOperation` or `Location`), to read again later. */
    readonly operation: string | undefined,
    /** The service's own error code for the last failure, when it gave one. */
    readonly code?: string | number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OutcomeUnknownError';
  }
}

/**
 * A service this call depends on cannot serve it now: it refused the backend's own identity (a missing role
 * assignment, not the caller's doing) or stayed unavailable after the tries the call allows. Answered 503 at the HTTP
 * edge with this message, which names the service and what it said.
 */
export class UnavailableError extends Error {
  constructor(
    message: string,
    readonly service: string,
  ) {
    super(message);
    this.name = 'UnavailableError';
  }
}

/**
 * What a dependency's failure means to whoever asked, for a call the caller's input drove (a lookup of what it named,
 * a write of what it sent): the service refusing the input itself (a 4xx other than 404, 409, 412 and 429) is bad
 * input, a ValidationError naming the service and its reason; the service refusing our identity, failing (5xx) or not
 * answering is an UnavailableError. Throttling, not-found and conflicts pass unchanged — their callers judge them —
 * as does anything that is not a service's answer (a bug stays a 500).
 */
export function asCallerError(service: string, doing: string, err: unknown): unknown {
  if (!(err instanceof ServiceError) || err instanceof ThrottledError) return err;
  if (err instanceof NotFoundError || err instanceof ConflictError) return err;
  const said = `${err.message}`;
  if (err instanceof AccessDeniedError)
    return new UnavailableError(
      `${service} refused this backend's identity while ${doing} (HTTP ${err.status}): ${said} — its role assignment there is missing`,
      service,
    );
  if (err instanceof TransientError || err.status === undefined || err.status >= 500)
    return new UnavailableError(`${service} is unavailable while ${doing}: ${said}`, service);
  return new ValidationError(`${service} refused ${doing}: ${said}`);
}

/** Parses an HTTP Retry-After header (delta-seconds or HTTP-date) into milliseconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
