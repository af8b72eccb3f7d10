/**
 * Certificate expiry: the hourly sweep (findings once per horizon, documented rolls), the six-hourly reconciliation
 * of the inventory against DPS, and `GET /api/certificates/expiring?within=30d` (function key).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';

import { audit } from '../shared/audit';
import { auditRevokedStillRegistered } from '../shared/certificates/audits/revoked';
import { CA_DOCUMENT_ID, caCertificatesSource } from '../shared/certificates/ca-certificates';
import type { FindingDocument } from '../shared/certificates/expiry-sweep';
import { listExpiring, sweepExpiries } from '../shared/certificates/expiry-sweep';
import { reconcileInventory } from '../shared/certificates/inventory';
import { parseHorizons } from '../shared/certificates/rules/horizons';
import { configDocument, services } from '../shared/composition';
import { CONTAINERS } from '../shared/containers';
import { setting } from '../shared/settings';
import { authorizeAdmin, authorizeViewer } from './edge/caller';
import { badRequest, notFound, ok } from './edge/http-response';
import { http, timer } from './edge/registry';

const horizons = () => parseHorizons(setting(process.env, 'expiryHorizonsDays'));

export async function expirySweep(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await sweepExpiries(
    { ...services(), retry: { attempts: 20 } },
    { now: new Date(), horizons: horizons() },
  );
  const revoked = await auditRevokedStillRegistered({ ...services(), retry: { attempts: 20 } });
  context.log(
    `revocation audit: ${revoked.certificates} revoked certificates known, ${revoked.raised.length} devices still registered raised`,
  );
  context.log(
    `expiry sweep: ${report.documentsRead} certificates read in ${report.months} months, ${report.raised.length} findings raised, ${report.rolled.length} rolled, ${report.notRolled.length} not rolled`,
  );
}

export async function reconcileCertificates(_timer: Timer, context: InvocationContext): Promise<void> {
  // Flex Consumption stops a function at its timeout; 8 minutes of pages, then the next run goes on from the checkpoint.
  const maxAge = Number(setting(process.env, 'certMaxAgeDays'));
  const checkpoint = await reconcileInventory(
    {
      ...services(),
      retry: { attempts: 20 },
      caCertificates: caCertificatesSource(
        configDocument(process.env, 'dpsCaCertificatesFile', CA_DOCUMENT_ID, services()),
      ),
      audit: Number.isFinite(maxAge) && maxAge > 0 ? { maxAgeDays: maxAge } : {},
    },
    { budgetMs: 8 * 60_000 },
  );
  context.log(
    `reconciliation: ${checkpoint.pagesThisRun} pages this run, phase ${checkpoint.phase}, ${checkpoint.passes} passes completed`,
  );
}

/** `GET /api/certificates/expiring?within=30d` (Admin or Reader role: every maker's certificates). */
export async function getExpiring(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  const within = /^(\d{1,4})d$/.exec(request.query.get('within') ?? '30d');
  if (!within) return badRequest('within must be a number of days, like 30d');
  const view = await listExpiring(await services().certificates(), new Date(), Number(within[1]), horizons());
  return ok({ within: `${within[1]}d`, ...view });
}

const FINDING_KINDS = ['expiry', 'audit', 'alert'] as const;

/**
 * `GET /api/findings?kind=audit|expiry|alert[&suppressed=true]` (Admin role: findings name every maker's devices):
 * open findings (or the suppressed ones), newest first.
 */
export async function listFindings(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  const kind = request.query.get('kind') ?? 'audit';
  if (!FINDING_KINDS.includes(kind as (typeof FINDING_KINDS)[number]))
    return badRequest(`kind must be one of ${FINDING_KINDS.join(', ')}`);
  const wantSuppressed = request.query.get('suppressed') === 'true';
  const page = await (
    await services().store()
  )
    .container<FindingDocument>(CONTAINERS.findings.name)
    .query(
      'SELECT * FROM c WHERE c.kind = @kind',
      { '@kind': kind },
      { partitionKey: kind, maxItems: 1000, continuationToken: request.query.get('continuationToken') ?? undefined },
    );
  const findings = page.items
    .filter((f) => !!f.suppressed === wantSuppressed)
    .map(({ _etag, _rid, _self, _ts, _attachments, ...f }) => f);
  findings.sort((a, b) => String(b.raisedAt).localeCompare(String(a.raisedAt)));
  return ok({ kind, findings, continuationToken: page.continuationToken });
}

/** `POST /api/findings/{kind}/{id}/suppress` (Admin role): an operator silences a finding, with a reason, audited. */
export async function suppressFinding(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeAdmin(request);
  if (!auth.ok) return auth.response;
  let body: { reason?: unknown };
  try {
    body = (await request.json()) as { reason?: unknown };
  } catch {
    return badRequest('the body must be JSON: { "reason": "…" }');
  }
  if (typeof body?.reason !== 'string' || body.reason.trim().length < 3)
    return badRequest('a reason (at least 3 characters) is required to suppress a finding');
  const { kind, id } = request.params;
  const store = await services().store();
  const findings = store.container<FindingDocument>(CONTAINERS.findings.name);
  const finding = await findings.read(id, kind);
  if (!finding) return notFound(`no ${kind} finding ${id}`);
  const by = auth.caller.principal;
  const suppressed = { by, reason: body.reason.trim(), at: new Date().toISOString() };
  await findings.replace({ ...finding, suppressed });
  await audit(store, {
    actor: by,
    action: 'finding.suppressed',
    target: { kind: 'finding', id },
    before: finding.suppressed ?? null,
    after: suppressed,
  });
  return ok({ id, kind, suppressed });
}

timer('expiry-sweep', { schedule: '0 0 * * * *', handler: expirySweep });
timer('reconcile-certificates', { schedule: '0 30 */6 * * *', handler: reconcileCertificates });
http('findings-list', { route: 'findings', methods: ['GET'], authLevel: 'function', handler: listFindings });
http('findings-suppress', {
  route: 'findings/{kind}/{id}/suppress',
  methods: ['POST'],
  authLevel: 'function',
  handler: suppressFinding,
});
http('certificates-expiring', {
  route: 'certificates/expiring',
  methods: ['GET'],
  authLevel: 'function',
  handler: getExpiring,
});
