/**
 * What `demo:fleet` and `bench:containment-effect` do as an operator would, over the wire: incidents through the
 * Functions host's HTTP API (two admins, four eyes), and the devices connected to each hub read from the hubs' service
 * API (`POST /devices/query`, `connectionState = 'Connected'`, paged with `x-ms-continuation`) — what the backend itself
 * can read — beside what the device clients saw.
 */
import { request } from 'node:https';

import { ConnectionString } from 'azure-iot-common';

import { iotTransport } from '../shared/azure/transport';
import { sign } from './sim/sas';

type Env = Record<string, string | undefined>;

/** The two local admins (`@admin`, `@admin2` of LOCAL_BEARER_SECRETS): a wide plan needs the second to approve. */
export const ADMIN = 'dev-admin-secret-not-a-secret';
export const SECOND_ADMIN = 'dev-admin2-secret-not-a-secret';

export interface IncidentApi {
  /** POST with a JSON body (or none); the status and the parsed answer. */
  post(path: string, body: unknown, token: string): Promise<{ status: number; body: Record<string, unknown> }>;
  get(id: string): Promise<Record<string, unknown>>;
  /** Polls the incident until its status is one of `statuses`; bounded so a stuck plan fails instead of hanging. */
  waitFor(id: string, statuses: string[], withinMs?: number): Promise<Record<string, unknown>>;
}

export function incidentApi(baseUrl: string, functionKey: string): IncidentApi {
  const call = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { 'x-functions-key': functionKey, authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  };
  const get = async (id: string) => (await call('GET', `/api/incidents/${id}`, ADMIN)).body;
  return {
    post: (path, body, token) => call('POST', path, token, body ?? {}),
    get,
    waitFor: async (id, statuses, withinMs = 120_000) => {
      const until = Date.now() + withinMs;
      for (;;) {
        const incident = await get(id);
        if (statuses.includes(String(incident.status))) return incident;
        if (Date.now() > until)
          throw new Error(
            `incident ${id} is ${String(incident.status)}, not ${statuses.join('|')}, after ${withinMs} ms`,
          );
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

function hubCredentials(env: Env): Map<string, { keyName: string; key: string }> {
  const found = new Map<string, { keyName: string; key: string }>();
  for (const cs of (env.IOTHUB_CONNECTION_STRINGS ?? '').split(',').filter(Boolean)) {
    const parsed = ConnectionString.parse(cs) as unknown as Record<string, string>;
    found.set(parsed.HostName.toLowerCase(), { keyName: parsed.SharedAccessKeyName, key: parsed.SharedAccessKey });
  }
  return found;
}

/** One page of a registry query on `hub`, signed with its connection string's policy. */
function queryPage(env: Env, hub: string, sql: string, continuation?: string) {
  const cred = hubCredentials(env).get(hub.toLowerCase());
  if (!cred) throw new Error(`no connection string for ${hub}`);
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const sr = encodeURIComponent(hub);
  const sas = `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sign(sr, cred.key, expiry))}&se=${expiry}&skn=${cred.keyName}`;
  return new Promise<{ items: Array<Record<string, unknown>>; next?: string; retryAfter?: number }>(
    (resolve, reject) => {
      const req = request(
        {
          host: hub,
          path: '/devices/query?api-version=2021-04-12',
          method: 'POST',
          agent: iotTransport(env)?.agent,
          headers: {
            authorization: sas,
            'content-type': 'application/json; charset=utf-8',
            'x-ms-max-item-count': '1000',
            ...(continuation ? { 'x-ms-continuation': continuation } : {}),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            if (res.statusCode === 429)
              return resolve({ items: [], retryAfter: Number(res.headers['retry-after'] ?? 1) });
            if (res.statusCode !== 200) return reject(new Error(`query on ${hub}: ${res.statusCode} ${text}`));
            const next = res.headers['x-ms-continuation'];
            resolve({
              items: JSON.parse(text) as Array<Record<string, unknown>>,
              next: next ? String(next) : undefined,
            });
          });
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ query: sql }));
    },
  );
}

/** The device IDs each hub's service API shows `Connected`. */
export async function connectedOnHubs(env: Env, hubs: string[]): Promise<Map<string, Set<string>>> {
  const result = new Map<string, Set<string>>();
  for (const hub of hubs) {
    const ids = new Set<string>();
    let next: string | undefined;
    // The hubs' throttle is shared with the backend's own registry work: a 429 is waited out (bounded), as the SDKs do.
    for (let throttled = 0; ;) {
      const page = await queryPage(env, hub, "SELECT * FROM devices WHERE connectionState = 'Connected'", next);
      if (page.retryAfter !== undefined) {
        if (++throttled > 120) throw new Error(`query on ${hub}: still throttled after ${throttled} tries`);
        await new Promise((r) => setTimeout(r, Math.max(page.retryAfter ?? 1, 0.25) * 1000));
        continue;
      }
      for (const twin of page.items) ids.add(String(twin.deviceId));
      next = page.next;
      if (!next) break;
    }
    result.set(hub, ids);
  }
  return result;
}
