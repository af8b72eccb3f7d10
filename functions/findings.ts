/**
 * Findings: `GET /api/findings?kind=audit|expiry|alert[&suppressed=true]` (Admin or Reader role: findings name every
 * maker's devices) and `POST /api/findings/{kind}/{id}/suppress` (Admin role).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { services } from '../shared/composition';
import { FINDING_KINDS, type FindingKind, listFindings, suppressFinding } from '../shared/findings';
import { authorizeAdmin, authorizeViewer } from './edge/caller';
import { readJson } from './edge/http-body';
import { badRequest, notFound, ok } from './edge/http-response';
import { http } from './edge/registry';

/** A suppression is a reason, not a document. */
const MAX_SUPPRESS_BYTES = 16 * 1024;

/** Open findings of a kind (or the suppressed ones), newest first. */
export async function getFindings(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  const kind = request.query.get('kind') ?? 'audit';
  if (!FINDING_KINDS.includes(kind as FindingKind))
    return badRequest(`kind must be one of ${FINDING_KINDS.join(', ')}`);
  return ok(
    await listFindings(await services().findings(), {
      kind: kind as FindingKind,
      suppressed: request.query.get('suppressed') === 'true',
      continuationToken: request.query.get('continuationToken') ?? undefined,
    }),
  );
}

/** An operator silences a finding, with a reason, audited. */
export async function postSuppression(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeAdmin(request);
  if (!auth.ok) return auth.response;
  const body = (await readJson(request, MAX_SUPPRESS_BYTES, 'the body must be JSON: { "reason": "…" }')) as {
    reason?: unknown;
  } | null;
  if (typeof body?.reason !== 'string' || body.reason.trim().length < 3)
    return badRequest('a reason (at least 3 characters) is required to suppress a finding');
  const { kind, id } = request.params;
  const suppressed = await suppressFinding(
    services(),
    { kind: kind as FindingKind, id },
    auth.caller.principal,
    body.reason.trim(),
    new Date(),
  );
  if (!suppressed) return notFound(`no ${kind} finding ${id}`);
  return ok({ id, kind, suppressed });
}

http('findings-list', { route: 'findings', methods: ['GET'], authLevel: 'function', handler: getFindings });
http('findings-suppress', {
  route: 'findings/{kind}/{id}/suppress',
  methods: ['POST'],
  authLevel: 'function',
  handler: postSuppression,
});
