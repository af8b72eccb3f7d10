/**
 * The command line's view of the API: base URL and credentials from the environment, or — on a developer's machine —
 * from local.settings.json of the local stack. It speaks HTTP only; no Azure credential or SDK is needed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ClientConfig {
  baseUrl: string;
  functionKey?: string;
  /** Bearer token: an Entra ID access token in Azure, a manufacturer's secret locally. */
  token?: string;
  /** Bearer token of an identity with the Admin role (incidents, findings): Entra ID in Azure, `@admin` locally. */
  adminToken?: string;
}

/** The local stack's settings (local.settings.json), when the command runs beside it. */
export function localSettings(): Record<string, string> {
  for (const dir of [process.cwd(), join(__dirname, '..', '..'), join(__dirname, '..')]) {
    const file = join(dir, 'local.settings.json');
    if (existsSync(file))
      return (JSON.parse(readFileSync(file, 'utf8')) as { Values?: Record<string, string> }).Values ?? {};
  }
  return {};
}

/** Environment first (DPS_LIFECYCLE_URL, _FUNCTION_KEY, _TOKEN, _ADMIN_TOKEN), then the local stack's own settings. */
export function clientConfig(manufacturerId?: string, env = process.env): ClientConfig {
  const local = localSettings();
  const localToken = manufacturerId
    ? new RegExp(`(?:^|,)\\s*${manufacturerId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}=([^,]+)`).exec(
        local.LOCAL_BEARER_SECRETS ?? '',
      )?.[1]
    : undefined;
  const adminToken = /(?:^|,)\s*@admin=([^,]+)/.exec(local.LOCAL_BEARER_SECRETS ?? '')?.[1];
  return {
    baseUrl: (env.DPS_LIFECYCLE_URL ?? 'http://127.0.0.1:7071').replace(/\/+$/, ''),
    functionKey: env.DPS_LIFECYCLE_FUNCTION_KEY ?? local.DEV_FUNCTION_KEY,
    token: env.DPS_LIFECYCLE_TOKEN ?? localToken ?? adminToken,
    adminToken: env.DPS_LIFECYCLE_ADMIN_TOKEN ?? adminToken,
  };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(
  config: ClientConfig,
  path: string,
  init: RequestInit & { admin?: boolean } = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const headers = new Headers(init.headers);
  if (config.functionKey) headers.set('x-functions-key', config.functionKey);
  // A state-changing call without a body still says JSON: the server refuses one without a Content-Type (415), as any
  // web page could send that from another site.
  if (!['GET', 'HEAD'].includes((init.method ?? 'GET').toUpperCase()) && init.body === undefined) {
    init = { ...init, body: '{}' };
    headers.set('content-type', 'application/json');
  }
  const token = init.admin ? config.adminToken : config.token;
  if (token) headers.set('authorization', `Bearer ${token}`);
  const response = await fetch(`${config.baseUrl}${path}`, { ...init, headers });
  const text = await response.text();
  const body = (text ? JSON.parse(text) : {}) as T & { reason?: string; error?: string };
  if (response.status >= 400)
    throw new ApiError(
      response.status,
      `${response.status} ${body.error ?? response.statusText}: ${body.reason ?? text}`,
    );
  return { status: response.status, body, headers: response.headers };
}
