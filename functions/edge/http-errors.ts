/**
 * One error shape at the HTTP edge. Every HTTP function is wrapped (see registry.ts): what a handler throws becomes
 * `{ error, reason, correlationId }` with the status its kind calls for, and an error answer a handler returns gets
 * the same correlation id. The stack is logged under that id and never sent. The webhook keeps DPS's rules: bad input
 * is a 400 (DPS fails the registration at once), a throttled dependency a 503 (DPS retries, as it should), and a
 * dependency that refused our identity or stayed unavailable (UnavailableError) a 503 naming it. A dependency that did
 * not answer in time or lost the connection (TransientError, past the adapter's retries, or a maker's upload that
 * stalled on Storage and cannot be replayed by us) is a 503 with Retry-After: the same call may well pass.
 */
import { randomUUID } from 'node:crypto';

import type { HttpHandler, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import {
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  ThrottledError,
  TransientError,
  UnavailableError,
  ValidationError,
} from '../../shared/errors';

type Logger = Pick<InvocationContext, 'error' | 'warn'>;

/** A lost answer or a stall usually passes within seconds: a short wait, which clients lengthen with their backoff. */
const TRANSIENT_RETRY_AFTER_SECONDS = 5;

/** The answer for something a handler threw. */
export function errorResponse(err: unknown, correlationId: string, log: Logger): HttpResponseInit {
  const answer = (
    status: number,
    error: string,
    reason: string,
    headers: Record<string, string> = {},
  ): HttpResponseInit => ({
    status,
    jsonBody: { error, reason, correlationId },
    headers: { 'x-correlation-id': correlationId, ...headers },
  });
  if (err instanceof PayloadTooLargeError) return answer(413, 'PayloadTooLarge', err.message);
  if (err instanceof ValidationError) return answer(400, 'BadRequest', err.message);
  if (err instanceof NotFoundError) return answer(404, 'NotFound', err.message);
  if (err instanceof ConflictError) return answer(409, 'Conflict', err.message);
  if (err instanceof ThrottledError) {
    const seconds = Math.max(1, Math.ceil((err.retryAfterMs ?? 1000) / 1000));
    return answer(503, 'ServiceUnavailable', 'A service this call depends on is throttling us; try again later.', {
      'Retry-After': String(seconds),
    });
  }
  // Not a bug of ours, and nothing internal in the reason (the error names blobs and hosts): the caller tries again.
  // Logged (a warning, not an error) under the correlation id, so the id the caller quotes leads to what stalled.
  if (err instanceof TransientError) {
    log.warn(`[${correlationId}] transient failure, answered 503: ${err.stack ?? err.message}`);
    return answer(503, 'ServiceUnavailable', 'A service this call depends on did not answer in time; try again.', {
      'Retry-After': String(TRANSIENT_RETRY_AFTER_SECONDS),
    });
  }
  // A dependency that refused our identity or stayed down: its reason names the service, and nothing of ours.
  if (err instanceof UnavailableError) return answer(503, 'ServiceUnavailable', err.message);
  log.error(`[${correlationId}] unhandled error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return answer(500, 'InternalError', 'The request failed on our side; quote the correlation id when you report it.');
}

/** The invocation id is what the Functions host logs and Application Insights indexes; tests without a host get a fresh one. */
function correlationIdOf(context: InvocationContext): string {
  return context.invocationId && context.invocationId !== 'unknown' ? context.invocationId : randomUUID();
}

function withCorrelation(response: HttpResponseInit, correlationId: string): HttpResponseInit {
  const body = response.jsonBody as Record<string, unknown> | undefined;
  if ((response.status ?? 200) < 400 || !body || typeof body !== 'object' || typeof body.error !== 'string')
    return response;
  return {
    ...response,
    jsonBody: { ...body, correlationId },
    headers: { ...(response.headers as Record<string, string> | undefined), 'x-correlation-id': correlationId },
  };
}

export function withHttpErrors(handler: HttpHandler): HttpHandler {
  return async (request: HttpRequest, context: InvocationContext) => {
    const correlationId = correlationIdOf(context);
    try {
      return withCorrelation(await handler(request, context), correlationId);
    } catch (err) {
      return errorResponse(err, correlationId, context);
    }
  };
}
