/**
 * Shared access signature checks as IoT Hub and DPS make them: `SharedAccessSignature sr=<uri>&sig=<hmac>&se=<expiry>[&skn=<policy>]`,
 * where sig = base64(HMAC-SHA256(base64-decoded key, sr + "\n" + se)) over `sr` exactly as it stands in the token:
 * the docs' samples URL-encode it first, the Node SDKs send it as is (the device SDK's `0ne…/registrations/id`),
 * and the services accept both.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

import { HttpError } from './wire';

export interface SasToken {
  /** The resource, URL-decoded. */
  sr: string;
  /** `sr` as it stands in the token: what was signed. */
  rawSr: string;
  sig: string;
  se: number;
  skn?: string;
}

export function parseSas(authorization: string | undefined): SasToken {
  if (!authorization?.startsWith('SharedAccessSignature '))
    throw new HttpError(401, 401002, 'Missing or malformed SharedAccessSignature authorization header.');
  const fields = new Map<string, string>();
  for (const part of authorization.slice('SharedAccessSignature '.length).split('&')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1));
  }
  const sr = fields.get('sr');
  const sig = fields.get('sig');
  const se = Number(fields.get('se'));
  if (!sr || !sig || !Number.isFinite(se))
    throw new HttpError(401, 401002, 'SharedAccessSignature lacks sr, sig or se.');
  return { sr: decodeURIComponent(sr), rawSr: sr, sig: decodeURIComponent(sig), se, skn: fields.get('skn') };
}

export function sign(signedResource: string, key: string, expiry: number): string {
  return createHmac('sha256', Buffer.from(key, 'base64')).update(`${signedResource}\n${expiry}`).digest('base64');
}

/** Derives a device key from an enrollment group key, as DPS does for symmetric-key groups. */
export function deriveDeviceKey(groupKey: string, registrationId: string): string {
  return createHmac('sha256', Buffer.from(groupKey, 'base64')).update(registrationId).digest('base64');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Verifies a token for `resource` (compared case-insensitively, as the services do) against the candidate keys.
 * Throws 401 when expired, for another resource, or signed with none of the keys.
 */
export function verifySas(token: SasToken, resource: string, keys: string[], nowSeconds = Date.now() / 1000): void {
  if (token.se < nowSeconds) throw new HttpError(401, 401003, 'The SharedAccessSignature has expired.');
  if (token.sr.toLowerCase().replace(/\/$/, '') !== resource.toLowerCase())
    throw new HttpError(401, 401002, `The SharedAccessSignature is for ${token.sr}, not ${resource}.`);
  if (!keys.some((key) => same(sign(token.rawSr, key, token.se), token.sig)))
    throw new HttpError(401, 401002, 'The SharedAccessSignature signature is invalid.');
}
