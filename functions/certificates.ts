/**
 * Certificate expiry: the hourly sweep (findings once per horizon, documented rolls), the six-hourly reconciliation
 * of the inventory against DPS, and `GET /api/certificates/expiring?within=30d` (function key). Findings have their
 * own trigger (findings.ts).
 */
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';

import { auditRevokedStillRegistered } from '../shared/certificates/audits/revoked';
import { listExpiring, sweepExpiries } from '../shared/certificates/expiry-sweep';
import { reconcileInventory } from '../shared/certificates/inventory';
import { sweepIssuedCertificates } from '../shared/certificates/issued-certificates';
import {
  expiryHorizons,
  issuedSweepDeps,
  reconcileDeps,
  renewalPercent,
  services,
  sweepDeps,
} from '../shared/composition';
import { authorizeViewer } from './edge/caller';
import { badRequest, ok } from './edge/http-response';
import { http, timer } from './edge/registry';

export async function expirySweep(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await sweepExpiries(sweepDeps(), { now: new Date(), horizons: expiryHorizons() });
  const revoked = await auditRevokedStillRegistered(sweepDeps());
  context.log(
    `revocation audit: ${revoked.certificates} revoked certificates known, ${revoked.raised.length} devices still registered raised`,
  );
  context.log(
    `expiry sweep: ${report.documentsRead} certificates read in ${report.months} months, ${report.raised.length} findings raised, ${report.rolled.length} rolled, ${report.notRolled.length} not rolled`,
  );
  // Issued certificates are judged by their renewal point, not by the horizons above.
  const issued = await sweepIssuedCertificates(issuedSweepDeps(), {
    now: new Date(),
    renewalPercent: renewalPercent(),
  });
  context.log(
    `issued certificates: ${issued.devices} devices reporting one, ${issued.learned} learned, ${issued.renewed} renewed, ${issued.raised.length} past their renewal point raised, ${issued.resolved.length} resolved`,
  );
}

export async function reconcileCertificates(_timer: Timer, context: InvocationContext): Promise<void> {
  // Flex Consumption stops a function at its timeout; 8 minutes of pages, then the next run goes on from the checkpoint.
  const checkpoint = await reconcileInventory(reconcileDeps(), { budgetMs: 8 * 60_000 });
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
  const view = await listExpiring(await services().certificates(), new Date(), Number(within[1]), expiryHorizons());
  return ok({ within: `${within[1]}d`, ...view });
}

timer('expiry-sweep', { schedule: '0 0 * * * *', handler: expirySweep });
timer('reconcile-certificates', { schedule: '0 30 */6 * * *', handler: reconcileCertificates });
http('certificates-expiring', {
  route: 'certificates/expiring',
  methods: ['GET'],
  authLevel: 'function',
  handler: getExpiring,
});
