/**
 * Azure Resource Manager's answers and long-running operations, for the ARM adapters: ARM's error shape into the
 * port's errors, and a 201/202 naming `Azure-AsyncOperation` (or only `Location`) followed to its end — each poll
 * after the last answer's `Retry-After`, until `Succeeded` (or, with `Location` only, until it stops answering 202);
 * `Failed` or `Canceled` is an error. A poll throttled past the pipeline's own tries does not end the following: the
 * operation is not over for that, so it is polled again later, within the polls' bound.
 *
 * An action (a POST) that ARM accepted is followed by `followAccepted`: once the 202 has come the action may happen
 * whatever the polls meet, so anything that stops the following is an OutcomeUnknownError — never a ServiceError or
 * a ThrottledError, which callers take for a refusal or send again on (a second `revokeAndRotate` would revoke the CA
 * the first one made).
 */
import type { PipelineResponse } from '@azure/core-rest-pipeline';

import {
  AccessDeniedError,
  ConflictError,
  NotFoundError,
  OutcomeUnknownError,
  parseRetryAfter,
  ServiceError,
  ThrottledError,
} from '../errors';

/** An operation polled this many times without ending is given up (about an hour at ARM's usual 30 s). */
export const MAX_POLLS = 120;

export type ArmAnswer = { status: number; headers: PipelineResponse['headers']; body: unknown };

/** One GET of an operation URL; throws the port's errors (armError) for a 4xx or 5xx. */
export type Poll = (url: string) => Promise<ArmAnswer>;

export interface Operation {
  asyncOperation: string | undefined;
  location: string | undefined;
  /** The answer that started it (201/202): its Retry-After is the first wait. */
  first: ArmAnswer;
}

export function parseBody(response: PipelineResponse): unknown {
  if (!response.bodyAsText) return undefined;
  try {
    return JSON.parse(response.bodyAsText);
  } catch {
    return response.bodyAsText;
  }
}

/** ARM's error shape `{ error: { code, message } }` into the port's errors. */
export function armError(method: string, url: string, answer: ArmAnswer): Error {
  const error = (answer.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const what = `${method} ${new URL(url).pathname}: ${error?.code ?? answer.status} ${error?.message ?? ''}`.trim();
  switch (answer.status) {
    case 404:
      return new NotFoundError(what, error?.code);
    case 409:
    case 412:
      return new ConflictError(what, answer.status, error?.code);
    case 429:
      return new ThrottledError(what, parseRetryAfter(answer.headers.get('retry-after')), error?.code);
    case 401:
    case 403:
      return new AccessDeniedError(what, answer.status, error?.code);
    default:
      return new ServiceError(what, answer.status, error?.code);
  }
}

const retryAfterOf = (answer: ArmAnswer) => parseRetryAfter(answer.headers.get('retry-after')) ?? 1000;

/** Follows an operation to its end (see above); throws the port's errors when it fails or never ends. */
export async function followOperation(
  poll: Poll,
  wait: (ms: number) => Promise<void>,
  { asyncOperation, location, first }: Operation,
): Promise<void> {
  const url = asyncOperation ?? (location as string);
  let waitMs = retryAfterOf(first);
  for (let n = 0; n < MAX_POLLS; n++) {
    await wait(waitMs);
    let last: ArmAnswer;
    try {
      last = await poll(url);
    } catch (err) {
      if (!(err instanceof ThrottledError)) throw err;
      waitMs = err.retryAfterMs ?? 1000;
      continue;
    }
    waitMs = retryAfterOf(last);
    if (!asyncOperation) {
      if (last.status !== 202) return;
      continue;
    }
    const { status, error } = last.body as { status?: string; error?: { code?: string; message?: string } };
    if (status === 'Succeeded') return;
    if (status === 'Failed' || status === 'Canceled')
      throw new ServiceError(
        `ADR operation ${status.toLowerCase()}: ${error?.code ?? ''} ${error?.message ?? ''}`.trim(),
        undefined,
        error?.code,
      );
  }
  throw new ServiceError(`ADR operation ${url} did not end after ${MAX_POLLS} polls`, undefined);
}

/** An action ARM accepted (202), followed to its end; whatever stops the following leaves its outcome unknown. */
export async function followAccepted(
  poll: Poll,
  wait: (ms: number) => Promise<void>,
  operation: Operation & { what: string },
): Promise<void> {
  try {
    await followOperation(poll, wait, operation);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new OutcomeUnknownError(
      `${operation.what}: accepted (202), outcome unknown — following its operation failed: ${why}`,
      operation.asyncOperation ?? operation.location,
      (err as { code?: string | number } | undefined)?.code,
      { cause: err },
    );
  }
}
