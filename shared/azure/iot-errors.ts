/** Translates the errors of the two IoT SDKs (azure-iot-http-base `RestApiClient`) into our port errors. */
import {
  AccessDeniedError,
  ConflictError,
  isConnectionLost,
  JobQuotaExceededError,
  NotFoundError,
  parseRetryAfter,
  ServiceError,
  ThrottledError,
  TRANSIENT_STATUSES,
  TransientError,
} from '../errors';
import { IotDeadlineError } from './deadline-http';
import { countThrottle } from './metrics';

interface SdkHttpError extends Error {
  response?: { statusCode?: number; headers?: Record<string, string | string[] | undefined> };
  responseBody?: string;
}

function serviceCode(body: string | undefined): string | number | undefined {
  if (!body) return undefined;
  try {
    const parsed = JSON.parse(body) as { errorCode?: number; Message?: string };
    if (parsed.errorCode !== undefined) return parsed.errorCode; // DPS
    const match = /ErrorCode:(\w+)/.exec(parsed.Message ?? ''); // IoT Hub
    return match?.[1];
  } catch {
    return undefined;
  }
}

/** DPS's own words (`message` of its error body), which the SDK leaves inside its error's message as raw JSON. */
function serviceMessage(body: string | undefined): string | undefined {
  if (!body) return undefined;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    return typeof parsed.message === 'string' && parsed.message ? parsed.message : undefined;
  } catch {
    return undefined;
  }
}

export function translateIotError(err: unknown): Error {
  const e = err as SdkHttpError;
  const status = e?.response?.statusCode;
  if (status === undefined) {
    // No answer: the request may or may not have been applied. A retry policy that knows the call is idempotent
    // may try again; anything else sees the error as before. A call abandoned at its deadline (deadline-http.ts) is
    // the same lost answer, named so.
    if (e instanceof IotDeadlineError) return new TransientError(e.message, undefined);
    if (isConnectionLost(err)) return new TransientError(`connection lost: ${e.message}`, undefined, e.name);
    return e instanceof Error ? e : new Error(String(err));
  }
  const code = serviceCode(e.responseBody);
  const said = serviceMessage(e.responseBody) ?? (e.message || 'request failed');
  const message = `${said} (HTTP ${status}${code !== undefined ? `, ${code}` : ''})`;
  switch (status) {
    case 404:
      return new NotFoundError(message, code);
    case 409:
    case 412:
      return new ConflictError(message, status, code);
    case 429:
      // DPS names its errors with numbers (429001), IoT Hub with words (ThrottlingException).
      countThrottle(typeof code === 'number' || /^\d+$/.test(String(code)) ? 'dps' : 'iothub');
      return new ThrottledError(message, parseRetryAfter(e.response?.headers?.['retry-after']), code);
    case 401:
    case 403:
      // IoT Hub refuses a second import/export job on a hub with 403 JobQuotaExceeded: busy, not forbidden.
      if (code === 'JobQuotaExceeded') return new JobQuotaExceededError(message);
      return new AccessDeniedError(message, status, code);
    default:
      return TRANSIENT_STATUSES.has(status)
        ? new TransientError(message, status, code)
        : new ServiceError(message, status, code);
  }
}

/** Runs an SDK call that answers nothing (a delete), translating its error. */
export async function sdkVoid(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    throw translateIotError(err);
  }
}

/** Runs an SDK call and returns the response body, translating its error. */
export async function sdkCall<T>(call: () => Promise<{ responseBody: T }>): Promise<T> {
  try {
    return (await call()).responseBody;
  } catch (err) {
    throw translateIotError(err);
  }
}

/** For the SDK calls whose promise resolves with the body itself (`callbackToPromise`: import jobs, `getJob`). */
export async function sdkPlain<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw translateIotError(err);
  }
}

/** As `sdkCall`, but a 404 becomes `undefined`. */ export async function sdkRead<T>(
  call: () => Promise<{ responseBody: T }>,
): Promise<T | undefined> {
  try {
    return await sdkCall(call);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}
