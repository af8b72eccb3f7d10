/**
 * A decision as the webhook answers it: DPS reads 200 with a hub as assigned, fails the registration on 403 and 400,
 * and retries a 503 (any status ≥ 429), which is how a webhook without its deny-list snapshot says "try again".
 * The explain route answers 200 with the whole decision and what it was made from.
 */
import type { Outcome } from './engine';

export interface HttpOutcome {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  outcome: Outcome;
}

export function httpOutcome(
  outcome: Outcome,
  explained?: { policy: string | null; denyListAgeMs: number; latencyMs: number },
): HttpOutcome {
  if (explained) return { status: 200, body: { outcome: outcome.kind, ...outcome, ...explained }, outcome };
  switch (outcome.kind) {
    case 'allocate':
      return { status: 200, body: outcome.response, outcome };
    case 'deny':
      return { status: 403, body: { error: 'Denied', reason: outcome.reason }, outcome };
    case 'invalid':
      return { status: 400, body: { error: 'BadRequest', reason: outcome.reason }, outcome };
    case 'unavailable':
      return {
        status: 503,
        body: { error: 'Unavailable', reason: outcome.reason },
        headers: { 'Retry-After': '1' },
        outcome,
      };
  }
}
