/**
 * `POST /api/allocate`: DPS's custom allocation webhook, and `POST /api/allocate/explain` (admin): the same
 * decision with every candidate and reason. DPS waits on the webhook for every registration, so it decides from
 * memory only (see AllocationRuntime). Refusals are 4xx below 429 (DPS fails the registration and shows the
 * reason); 503 only when the deny list is too old to trust, which DPS retries.
 */
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { services } from '../shared/composition';
import { AllocationRuntime } from '../shared/use-cases/allocation-runtime';
import { deviceCertificateRecorder } from '../shared/use-cases/device-certificates';
import { allocationSources } from '../shared/use-cases/allocation-sources';
import { authorizeAdmin } from './caller';
import { badRequest } from './http-response';
import { http } from './registry';

let runtime: AllocationRuntime | undefined;

/** The process's runtime, started when this module loads so the first snapshots load before DPS's first call. */
export function allocationRuntime(): AllocationRuntime {
  runtime ??= new AllocationRuntime(allocationSources(process.env, services()), {
    log: (line) => console.log(line),
    onDeviceCertificate: deviceCertificateRecorder(() => services().store(), () => services().events(), (line) => console.log(line)),
  });
  return runtime;
}

async function handle(request: HttpRequest, explain: boolean): Promise<HttpResponseInit> {
  let body: unknown;
  try {
    body = JSON.parse(await request.text());
  } catch {
    return badRequest('The body is not JSON: DPS sends an AllocationRequest.');
  }
  const result = await allocationRuntime().allocate(body, explain);
  return { status: result.status, jsonBody: result.body, headers: result.headers };
}

export async function allocate(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return handle(request, false);
}

export async function explainAllocation(request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  const auth = await authorizeAdmin(request);
  if (!auth.ok) return auth.response;
  return handle(request, true);
}

http('allocate', { route: 'allocate', methods: ['POST'], authLevel: 'function', handler: allocate });
http('allocate-explain', { route: 'allocate/explain', methods: ['POST'], authLevel: 'function', handler: explainAllocation });

if (process.env.DPS_HOST_NAME) void allocationRuntime().start();
