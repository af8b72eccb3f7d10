/**
 * Who is calling. In Azure, App Service Authentication (Easy Auth, set up by infra/) validates the Entra ID bearer
 * token and hands its claims in `x-ms-client-principal` — a header the platform strips from incoming requests, so
 * it cannot be forged. The app maps the token's application (`azp`/`appid`) to a manufacturer and reads its app
 * roles. Who acted is recorded as a principal: an operator's is the user (`oid`), never the client application many
 * operators sign in through (four eyes compares them); a manufacturer's is its application. Locally there is no
 * Entra ID: each manufacturer, each admin (`@admin`, `@admin2`, …) and `@reader` has a bearer secret in local settings.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

import type { ImportConfig } from './manufacturers';

export const ROLES = { import: 'Manufacturer.Import', admin: 'Admin', reader: 'Reader' } as const;
export const LOCAL_ADMIN = '@admin';
/** Local admins: `@admin`, and `@admin2`, `@admin3`, … so that four eyes can run locally. */
const LOCAL_ADMIN_HOLDER = /^@admin(\d*)$/;
/** The local stand-in for an operator who looks but does not act (the console's reader role). */
export const LOCAL_READER = '@reader';

export type Caller =
  | { kind: 'manufacturer'; manufacturerId: string; principal: string }
  | { kind: 'admin'; principal: string }
  | { kind: 'reader'; principal: string };
export type CallerResult = { ok: true; caller: Caller } | { ok: false; status: 401 | 403; reason: string };

export interface HeaderSource {
  get(name: string): string | null;
}

interface ClientPrincipal {
  claims?: Array<{ typ: string; val: string }>;
}

function principalClaims(header: string): Map<string, string[]> | undefined {
  try {
    const principal = JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as ClientPrincipal;
    const claims = new Map<string, string[]>();
    for (const { typ, val } of principal.claims ?? []) claims.set(typ, [...(claims.get(typ) ?? []), val]);
    return claims;
  } catch {
    return undefined;
  }
}

/**
 * Secrets are compared by digest: equal lengths whatever the input, so neither a length check nor timingSafeEqual's
 * throw on unequal byte lengths (a 500 for a right-length secret in multi-byte characters) tells an attacker anything.
 */
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
const same = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

/** `acme-tpm=secret,@admin=secret2` → map of secret holders (local stack only). */
export function parseLocalSecrets(value: string | undefined): Map<string, string> | undefined {
  if (!value) return undefined;
  return new Map(
    value
      .split(',')
      .map((pair) => pair.trim())
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()] as [string, string];
      }),
  );
}

export interface CallerOptions {
  /** The local stack's stand-in for Entra ID. */
  localSecrets?: Map<string, string>;
  /** App Service Authentication is on (the platform sets WEBSITE_AUTH_ENABLED): only then is the principal header trustworthy. */
  platformAuth: boolean;
}

export function identifyCaller(
  headers: HeaderSource,
  config: ImportConfig,
  { localSecrets, platformAuth }: CallerOptions,
): CallerResult {
  if (localSecrets) {
    const bearer = /^Bearer\s+(\S+)$/i.exec(headers.get('authorization') ?? '')?.[1];
    if (!bearer) return { ok: false, status: 401, reason: 'Authorization: Bearer <manufacturer secret> is required' };
    for (const [holder, secret] of localSecrets) {
      if (!same(bearer, secret)) continue;
      const admin = LOCAL_ADMIN_HOLDER.exec(holder);
      if (admin)
        return { ok: true, caller: { kind: 'admin', principal: `local admin${admin[1] ? ` ${admin[1]}` : ''}` } };
      if (holder === LOCAL_READER) return { ok: true, caller: { kind: 'reader', principal: 'local reader' } };
      if (!config.manufacturers.some((m) => m.id === holder)) break;
      return { ok: true, caller: { kind: 'manufacturer', manufacturerId: holder, principal: `local:${holder}` } };
    }
    return { ok: false, status: 401, reason: 'the bearer secret is not one of a configured manufacturer' };
  }
  // Fail closed: without App Service Authentication anyone could send the header.
  if (!platformAuth)
    return {
      ok: false,
      status: 401,
      reason: 'Entra ID sign-in is not configured for this app (deploy with apiAppClientId)',
    };
  const header = headers.get('x-ms-client-principal');
  if (!header)
    return { ok: false, status: 401, reason: 'an Entra ID bearer token is required (Authorization: Bearer …)' };
  const claims = principalClaims(header);
  if (!claims) return { ok: false, status: 401, reason: 'the client principal cannot be read' };
  const roles = new Set([
    ...(claims.get('roles') ?? []),
    ...(claims.get('http://schemas.microsoft.com/ws/2008/06/identity/claims/role') ?? []),
  ]);
  const appId = claims.get('azp')?.[0] ?? claims.get('appid')?.[0];
  // An operator is the user (or, for an app-only token, the service principal): `oid` is theirs alone, while `azp`
  // is the client app every operator of the console or the command line signs in through.
  const operator =
    claims.get('oid')?.[0] ?? claims.get('http://schemas.microsoft.com/identity/claims/objectidentifier')?.[0];
  if (roles.has(ROLES.admin) || roles.has(ROLES.reader)) {
    if (!operator)
      return { ok: false, status: 403, reason: 'the token names no user (oid): an operator acts as a person' };
    return { ok: true, caller: { kind: roles.has(ROLES.admin) ? 'admin' : 'reader', principal: operator } };
  }
  const principal = appId ?? 'unknown';
  const manufacturer = appId ? config.manufacturers.find((m) => m.entraAppIds?.includes(appId)) : undefined;
  if (!manufacturer)
    return { ok: false, status: 403, reason: `application ${appId ?? '(none)'} acts for no configured manufacturer` };
  if (!roles.has(ROLES.import))
    return { ok: false, status: 403, reason: `the token lacks the ${ROLES.import} app role` };
  return { ok: true, caller: { kind: 'manufacturer', manufacturerId: manufacturer.id, principal } };
}

/** A manufacturer acts only in its own namespace; an admin in any. */
export function mayActFor(caller: Caller, manufacturerId: string): boolean {
  return caller.kind === 'admin' || (caller.kind === 'manufacturer' && caller.manufacturerId === manufacturerId);
}
