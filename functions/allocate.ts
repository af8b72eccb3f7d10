/**
 * `POST /api/allocate`: DPS's custom allocation webhook, and `POST /api/allocate/explain` (admin): the same
 * decision with every candidate and reason. DPS waits on the webhook for every registration, so it decides from
 * memory only (see AllocationRuntime). Refusals are 4xx below 429 (DPS fails the registration and shows the
 * reason); 503 only when the deny list is too old to trust, which DPS retries.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { MAX_REQUEST_BYTES } from '../shared/allocation/rules/request-schema';
import type { AllocationRuntime } from '../shared/allocation/runtime';
import { warmAllocation } from '../shared/composition';
import { allocationRuntime } from './edge/allocation-runtime';
import { authorizeAdmin } from './edge/caller';
import { readText } from './edge/http-body';
import { badRequest } from './edge/http-response';
import { http } from './edge/registry';

/**
 * The webhook over an allocation runtime: the process's own (below), or one a test builds on its own clock (the
 * Cosmos-outage test drives the deny list's age by hand).
 */
export function allocationHandler(runtime: () => AllocationRuntime, explain = false) {
  return async (request: HttpRequest): Promise<HttpResponseInit> => {
    const text = await readText(request, MAX_REQUEST_BYTES); // 413 above it, before anything is parsed
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return badRequest('The body is not JSON: DPS sends an AllocationRequest.');
    }
    const result = await runtime().allocate(body, explain);
    return { status: result.status, jsonBody: result.body, headers: result.headers };
  };
}

const handle = allocationHandler(allocationRuntime);
const handleExplain = allocationHandler(allocationRuntime, true);

export async function allocate(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request);
}

export async function explainAllocation(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeAdmin(request);
  if (!auth.ok) return auth.response;
  return handleExplain(request);
}

// DPS is the caller, not a browser, and its Content-Type is not ours to demand; the function key alone admits it, and a
// page elsewhere that held the key would not need to forge anything.
http(
  'allocate',
  { route: 'allocate', methods: ['POST'], authLevel: 'function', handler: allocate },
  { simpleRequests: 'accepted' },
);
http('allocate-explain', {
  route: 'allocate/explain',
  methods: ['POST'],
  authLevel: 'function',
  handler: explainAllocation,
});

// Started when this module loads, so the first snapshots are in memory before DPS's first call.
warmAllocation();
