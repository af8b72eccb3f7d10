/**
 * The operator console: `GET /api/console?code=KEY` serves the page (one self-contained document, no CDN: it works
 * offline and in a locked-down tenant), and the read routes it shows are `GET /api/views/*` (function key + the Admin
 * or Reader role). Acting (approve, suppress, explain) goes through the routes that already do it, for admins.
 * Sign-in: App Service Authentication in Azure; locally the link `npm start` prints carries the local admin's secret
 * in its fragment, which never reaches a server.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { fleetDecisions } from '../shared/allocation/decision-counts';
import { allocationOverview } from '../shared/allocation/rules/overview';
import { issuedCertificatesView } from '../shared/certificates/issued-view';
import { certificateTimeline } from '../shared/certificates/timeline';
import { expiryHorizons, incidentRepositories, issuedViewDeps, renewalPercent, services } from '../shared/composition';
import { CONSOLE_CSP, CONSOLE_PAGE } from '../shared/generated/console-page';
import { listJobs, listRows, ROW_STATUSES, type RowStatus } from '../shared/imports/job-store';
import { allocationRuntime } from './edge/allocation-runtime';
import { authorizeViewer } from './edge/caller';
import { badRequest, ok } from './edge/http-response';
import { incidentView } from './edge/incident-view';
import { http } from './edge/registry';

export async function consolePage(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return {
    status: 200,
    body: CONSOLE_PAGE,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      // Only the page's own inline scripts and styles run (by hash, computed when it is generated); nothing else may
      // load, nothing may frame it.
      'content-security-policy': CONSOLE_CSP,
      'cache-control': 'no-store',
    },
  };
}

export async function allocationView(request: HttpRequest): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  const runtime = allocationRuntime();
  const [hubs, state] = await Promise.all([services().hubs(), runtime.state()]);
  // Every instance's decisions: this one's written first, the others' at most a minute old.
  await runtime.flushDecisions();
  const lastDay = await fleetDecisions(await services().decisionCounts(), new Date());
  // Connected devices per hub: one service-statistics call each; a hub that does not answer shows none.
  const connected = new Map<string, number>();
  await Promise.all(
    hubs.hostNames().map(async (h) => {
      const n = await hubs
        .hub(h)
        .connectedDevices()
        .catch(() => undefined);
      if (n !== undefined) connected.set(h.toLowerCase(), n);
    }),
  );
  return ok(allocationOverview({ ...state, lastDay, connected }, hubs.hostNames()));
}

const pageSize = (request: HttpRequest) => Math.min(Math.max(Number(request.query.get('pageSize')) || 50, 1), 200);
const continuation = (request: HttpRequest) => request.query.get('continuationToken') ?? undefined;

export async function importsView(request: HttpRequest): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  return ok(await listJobs(await services().importJobs(), pageSize(request), continuation(request)));
}

export async function importRowsView(request: HttpRequest): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  const status = request.query.get('status') || undefined;
  if (status && !ROW_STATUSES.includes(status as RowStatus))
    return badRequest(`status must be one of ${ROW_STATUSES.join(', ')}`);
  const page = await listRows(
    await services().importJobs(),
    request.params.jobId,
    status as RowStatus | undefined,
    continuation(request),
  );
  return ok(page);
}

export async function incidentsView(request: HttpRequest): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  const repo = await incidentRepositories(services()).incidents();
  const page = await repo.list(pageSize(request), continuation(request));
  return ok({ items: page.items.map(incidentView), continuationToken: page.continuationToken });
}

export async function certificatesView(request: HttpRequest): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  const weeks = Number(request.query.get('weeks') ?? 52);
  if (!Number.isInteger(weeks) || weeks < 1 || weeks > 104)
    return badRequest('weeks must be a whole number from 1 to 104');
  const now = new Date();
  return ok({
    horizons: expiryHorizons(),
    weeks: await certificateTimeline(await services().certificates(), now, weeks),
  });
}

/** Certificates DPS issued through ADR policies, as devices report them: end, renewal point, renewed or not, policy. */
export async function issuedCertificatesRoute(request: HttpRequest): Promise<HttpResponseInit> {
  const auth = await authorizeViewer(request);
  if (!auth.ok) return auth.response;
  return ok(
    await issuedCertificatesView(issuedViewDeps(), {
      now: new Date(),
      renewalPercent: renewalPercent(),
      pageSize: pageSize(request),
      continuationToken: continuation(request),
    }),
  );
}

const view = { methods: ['GET' as const], authLevel: 'function' as const };
http('console', { route: 'console', ...view, handler: consolePage });
http('views-allocation', { route: 'views/allocation', ...view, handler: allocationView });
http('views-imports', { route: 'views/imports', ...view, handler: importsView });
http('views-import-rows', { route: 'views/imports/{jobId}/rows', ...view, handler: importRowsView });
http('views-incidents', { route: 'views/incidents', ...view, handler: incidentsView });
http('views-certificates', { route: 'views/certificates', ...view, handler: certificatesView });
http('views-issued-certificates', {
  route: 'views/certificates/issued',
  ...view,
  handler: issuedCertificatesRoute,
});
