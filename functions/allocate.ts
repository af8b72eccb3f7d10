/**
 * `POST /api/allocate`: DPS's custom allocation webhook. DPS waits on it for every registration, so it decides from
 * memory only. A malformed call gets a 400 with its reason (DPS fails the registration with it, and never retries
 * a 4xx); a 5xx would make DPS retry ten times, so nothing here answers one on purpose.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { parseAllocationRequest } from '../shared/allocation/contract';
import { decideDefault } from '../shared/allocation/decide';
import { badRequest, ok } from './http-response';
import { http } from './registry';

export async function allocate(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    return badRequest('The body is not JSON: DPS sends an AllocationRequest.');
  }
  const parsed = parseAllocationRequest(body);
  if (!parsed.ok) return badRequest(parsed.reason);
  const decision = decideDefault(parsed.value);
  context.log(`allocate ${parsed.value.deviceRuntimeContext.registrationId} → ${decision.response.iotHubHostName} (${decision.reason})`);
  return ok(decision.response);
}

http('allocate', { route: 'allocate', methods: ['POST'], authLevel: 'function', handler: allocate });
