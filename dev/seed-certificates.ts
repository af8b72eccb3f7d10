/**
 * The local certificate-issuance demo, seeded over the wire as an operator would do it in Azure: in ADR
 * (management.azure.com, api-version 2026-11-01) a namespace, its root CA, an intermediate CA and its certificate
 * policy; in DPS (service API 2026-11-01) a symmetric-key enrollment group that names that policy. Idempotent. The
 * backend's own ADR adapter and its 2026-11-01 DPS calls come later: these are plain REST calls through the same
 * loopback agent the adapters use.
 */
import { ConnectionString } from 'azure-iot-common';

import { iotTransport } from '../shared/azure/transport';
import { type JsonAnswer, jsonHttps } from './json-https';
import { sign } from './sim/sas';

type Env = Record<string, string | undefined>;

export const DEMO_ADR = {
  subscription: '00000000-0000-0000-0000-000000000000',
  resourceGroup: 'dps-lifecycle-local',
  namespace: 'dps-lifecycle-demo',
  root: 'demo-root',
  ica: 'demo-ica',
  policy: 'demo-policy',
  validityPeriodInDays: 30,
};
export const DEMO_CERTIFICATES_GROUP = 'demo-certificates';

export type { JsonAnswer } from './json-https';

function https(
  env: Env,
  host: string,
  method: string,
  path: string,
  authorization: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return jsonHttps(
    {
      host,
      path,
      method,
      agent: iotTransport(env)?.agent,
      headers: { authorization, 'content-type': 'application/json; charset=utf-8', ...headers },
    },
    body,
  );
}

/** An ARM call to management.azure.com at api-version 2026-11-01; the local ADR takes any bearer token. */
export function armCall(env: Env, method: string, path: string, body?: unknown, token = 'local-dev-token') {
  const sep = path.includes('?') ? '&' : '?';
  return https(env, 'management.azure.com', method, `${path}${sep}api-version=2026-11-01`, `Bearer ${token}`, body);
}

/** A DPS service-API call at api-version 2026-11-01, signed with the DPS connection string's policy. */
export function dpsServiceCall(
  env: Env,
  method: string,
  path: string,
  body?: unknown,
  apiVersion = '2026-11-01',
  headers: Record<string, string> = {},
) {
  const cs = ConnectionString.parse(env.DPS_CONNECTION_STRING as string) as unknown as Record<string, string>;
  const resource = encodeURIComponent(cs.HostName);
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const sig = encodeURIComponent(sign(resource, cs.SharedAccessKey, expiry));
  const sas = `SharedAccessSignature sr=${resource}&sig=${sig}&se=${expiry}&skn=${cs.SharedAccessKeyName}`;
  const sep = path.includes('?') ? '&' : '?';
  return https(env, cs.HostName, method, `${path}${sep}api-version=${apiVersion}`, sas, body, headers);
}

/** The resource paths of the demo's namespace and CAs. */
export function adrPaths(d = DEMO_ADR) {
  const namespace = `/subscriptions/${d.subscription}/resourceGroups/${d.resourceGroup}/providers/Microsoft.DeviceRegistry/namespaces/${d.namespace}`;
  const ca = (name: string) => `${namespace}/certificateAuthorities/${name}`;
  return { namespace, root: ca(d.root), ica: ca(d.ica), policy: `${ca(d.ica)}/certificatePolicies/${d.policy}` };
}

async function ensure(env: Env, path: string, body: unknown): Promise<JsonAnswer> {
  const found = await armCall(env, 'GET', path);
  if (found.status === 200) return found;
  const made = await armCall(env, 'PUT', path, body);
  if (made.status !== 200 && made.status !== 201)
    throw new Error(`PUT ${path}: ${made.status} ${JSON.stringify(made.body)}`);
  return made;
}

/** Namespace, root CA, intermediate CA and policy of the demo (made once, then found). */
export async function seedAdrDemo(env: Env, d = DEMO_ADR): Promise<ReturnType<typeof adrPaths>> {
  const paths = adrPaths(d);
  const location = 'local';
  await ensure(env, paths.namespace, { location, properties: {} });
  await ensure(env, paths.root, { location, properties: { certificateAuthorityType: 'Root', keyType: 'ECC' } });
  await ensure(env, paths.ica, {
    location,
    properties: {
      certificateAuthorityType: 'ICA',
      keyType: 'ECC',
      issuer: { issuerType: 'Microsoft', certificateAuthorityResourceId: paths.root },
    },
  });
  await ensure(env, paths.policy, { properties: { certificate: { validityPeriodInDays: d.validityPeriodInDays } } });
  return paths;
}

/** A symmetric-key group naming the demo policy (DPS 2026-11-01); its primary key is returned for demo devices. */
export async function seedCertificatesGroup(env: Env, d = DEMO_ADR): Promise<{ groupId: string; primaryKey: string }> {
  const path = `/enrollmentGroups/${DEMO_CERTIFICATES_GROUP}`;
  let group = await dpsServiceCall(env, 'GET', path);
  if (group.status !== 200 || group.body.certificatePolicyName !== d.policy) {
    // An existing group is replaced by naming it (DPS refuses a put without If-Match on it: 409).
    const ifMatch: Record<string, string> = group.status === 200 ? { 'if-match': String(group.body.etag) } : {};
    group = await dpsServiceCall(
      env,
      'PUT',
      path,
      {
        enrollmentGroupId: DEMO_CERTIFICATES_GROUP,
        attestation: { type: 'symmetricKey' },
        allocationPolicy: 'hashed',
        namespaceName: d.namespace,
        certificateAuthorityName: d.ica,
        certificatePolicyName: d.policy,
      },
      undefined,
      ifMatch,
    );
    if (group.status !== 200) throw new Error(`PUT ${path}: ${group.status} ${JSON.stringify(group.body)}`);
  }
  const attestation = group.body.attestation as { symmetricKey: { primaryKey: string } };
  return { groupId: DEMO_CERTIFICATES_GROUP, primaryKey: attestation.symmetricKey.primaryKey };
}
