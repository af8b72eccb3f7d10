/**
 * The fleet the containment tests contain, through the whole function app on the local stack: group
 * `fabrikam-line-9`, signed by an intermediate CA (under a root) and allocated by the app's webhook, and four X.509
 * devices of it provisioned through the local DPS. Calls go as the local admin (or the second admin four eyes need).
 */
import { registerX509Device } from '../../dev/device';
import type { RunningHost } from '../../dev/host/host';
import { issue, type Issued } from '../../dev/pki';
import type { AllocationRuntime } from '../../shared/allocation/runtime';
import { startAppHost } from './app-host';
import { incidentReaches } from './eventually';
import { startTestStack, type TestStack } from './stack';

export const ADMIN = 'Bearer dev-admin-secret-not-a-secret';
/** A second admin of the local settings: four eyes need one. */
export const SECOND_ADMIN = 'Bearer dev-admin2-secret-not-a-secret';
export const LINE9_IDS = ['line9-a', 'line9-b', 'line9-c', 'line9-d'];

export type Line9 = Awaited<ReturnType<typeof startLine9>>;

export async function startLine9() {
  const stack: TestStack = await startTestStack({ withStorage: true });
  Object.assign(process.env, stack.env);
  const functions = await import('../../functions/index');
  const runtime: AllocationRuntime = (await import('../../functions/edge/allocation-runtime')).allocationRuntime();
  const host: RunningHost = await startAppHost({
    registrations: functions.registeredFunctions(),
    env: process.env,
    queue: { retryDelaySeconds: 1 },
  });
  const devices = new Map<string, Issued>();

  const admin = (path: string, init: RequestInit = {}, as = ADMIN) =>
    fetch(`${host.baseUrl}${path}`, {
      ...init,
      headers: { 'x-functions-key': 'fk', authorization: as, 'content-type': 'application/json' },
    });
  const register = (id: string) =>
    registerX509Device(stack.env, id, (devices.get(id) as Issued).certPem, (devices.get(id) as Issued).keyPem);
  const post = (path: string, body?: unknown) =>
    admin(path, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const waitFor = (id: string, status: string): Promise<Record<string, any>> =>
    incidentReaches(
      async () => (await (await admin(`/api/incidents/${id}`)).json()) as Record<string, unknown>,
      id,
      status,
    );

  const root = await issue({ subject: 'CN=Fabrikam Root CA', isCa: true });
  const intermediate = await issue({ subject: 'CN=Fabrikam Line 9 Intermediate', isCa: true, issuer: root });
  await stack.services.enrollments.putGroup({
    enrollmentGroupId: 'fabrikam-line-9',
    attestation: { type: 'x509', x509: { signingCertificates: { primary: { certificate: intermediate.certPem } } } },
    allocationPolicy: 'custom',
    customAllocationDefinition: { webhookUrl: `${host.baseUrl}/api/allocate?code=fk`, apiVersion: '2021-10-01' },
  });
  for (const id of LINE9_IDS) devices.set(id, await issue({ subject: `CN=${id}`, issuer: intermediate }));
  for (const id of LINE9_IDS) await register(id);

  return {
    stack,
    host,
    intermediate,
    devices,
    admin,
    post,
    register,
    waitFor,
    close: async () => {
      await runtime.stop();
      await host.close();
      await stack.close();
    },
  };
}
