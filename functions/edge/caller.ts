/**
 * Who calls an HTTP function, on top of its function key: a manufacturer or an admin (shared/auth/caller.ts),
 * answered as a 401/403 with the reason when the identity is missing or not enough.
 */
import type { HttpRequest, HttpResponseInit } from '@azure/functions';

import { type Caller, identifyCaller, mayActFor } from '../../shared/auth/caller';
import { callerSettings } from '../../shared/composition';
import type { LoadedImportConfig } from '../../shared/imports/config';
import { problem } from './http-response';

/** The makers' configuration (cached by the composition root's source). */
export const importConfig = (): Promise<LoadedImportConfig> => callerSettings().importConfig();

export type Authorized = { ok: true; caller: Caller } | { ok: false; response: HttpResponseInit };

const refuse = (status: 401 | 403, reason: string): Authorized => ({
  ok: false,
  response: {
    ...problem(status, status === 401 ? 'Unauthorized' : 'Forbidden', reason),
    headers: status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {},
  },
});

export async function identify(request: HttpRequest): Promise<Authorized> {
  const { localSecrets, platformAuth } = callerSettings();
  const { config } = await importConfig();
  const who = identifyCaller(request.headers, config, { localSecrets, platformAuth });
  return who.ok ? who : refuse(who.status, who.reason);
}

/** The caller acts for this manufacturer: itself, or an admin. */
export async function authorizeManufacturer(request: HttpRequest, manufacturerId: string): Promise<Authorized> {
  const who = await identify(request);
  if (who.ok && !mayActFor(who.caller, manufacturerId))
    return refuse(403, `this identity does not act for manufacturer ${manufacturerId}`);
  return who;
}

/** Breach and admin routes: the Admin app role (Entra ID), or the local admin secret. */
export async function authorizeAdmin(request: HttpRequest): Promise<Authorized> {
  const who = await identify(request);
  if (who.ok && who.caller.kind !== 'admin') return refuse(403, 'this route needs the Admin role');
  return who;
}

/** Fleet-wide reads for the console: the Admin role, or the Reader role (looks, never acts). */
export async function authorizeViewer(request: HttpRequest): Promise<Authorized> {
  const who = await identify(request);
  if (who.ok && who.caller.kind === 'manufacturer') return refuse(403, 'this route needs the Admin or Reader role');
  return who;
}
