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

/** Parses an HTTP Retry-After header (delta-seconds or HTTP-date) into milliseconds. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
