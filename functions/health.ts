/** `GET /api/health`: liveness for load balancers and the local stack's readiness check. Says nothing secret. */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { ok } from './edge/http-response';
import { http } from './edge/registry';

export async function health(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return ok({ status: 'ok', time: new Date().toISOString() });
}

http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: health });
