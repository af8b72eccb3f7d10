/**
 * TPM attestation as DPS runs it over HTTPS (DPS has none over MQTT):
 * 1. the device registers with `tpm: { endorsementKey, storageRootKey }` and no credentials; DPS answers 401 with
 *    `authenticationKey`, an activation blob (tpm/activation.ts) of a fresh HMAC key only that TPM can load;
 * 2. the device signs a SAS for `{idScope}/registrations/{registrationId}` with that key inside its TPM and registers
 *    again: the SAS verified against the key proves it holds the enrolled EK;
 * 3. the assigned registration carries `tpm.authenticationKey` once more: the device's IoT Hub key, wrapped the same
 *    way, which is also the key of the device identity created on the hub.
 */
import { randomBytes } from 'node:crypto';

import type { HubDevice } from '../../shared/dps-types';
import type { AttestationContext, Attested, DeviceTpmKeys } from './attestation-types';
import { parseSas, verifySas } from './sas';
import { activationBlob, HMAC_KEY_BYTES } from './tpm/activation';
import { TpmStructureError } from './tpm/structures';
import { HttpError } from './wire';

export type { DeviceTpmKeys } from './attestation-types';

interface Challenge extends DeviceTpmKeys {
  key: Buffer;
  expiresAt: number;
}

/** As long as the SAS the official client signs with the challenge key (an hour). */
const CHALLENGE_LIFETIME_MS = 60 * 60 * 1000;
/** A TPM2B_PUBLIC of an RSA-4096 key is under 700 bytes: anything longer is not a key. */
const MAX_KEY_BASE64 = 2048;
const challenges = new Map<string, Challenge>();
const challengeKey = (ctx: AttestationContext, registrationId: string) =>
  `${ctx.idScope}/${registrationId.toLowerCase()}`;

function enrolledEndorsementKey(ctx: AttestationContext, registrationId: string): Buffer | undefined {
  const enrollment = ctx.state.enrollments.get(registrationId.toLowerCase());
  const ek = enrollment?.attestation.type === 'tpm' ? enrollment.attestation.tpm?.endorsementKey : undefined;
  return ek ? Buffer.from(ek, 'base64') : undefined;
}

export function isTpmEnrollment(ctx: AttestationContext, registrationId: string): boolean {
  return enrolledEndorsementKey(ctx, registrationId) !== undefined;
}

function decodeKey(value: unknown, field: string): Buffer {
  if (typeof value !== 'string' || value.length > MAX_KEY_BASE64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(value))
    throw new HttpError(400, 400004, `tpm.${field} must be the base64 of a TPM2B_PUBLIC.`);
  return Buffer.from(value, 'base64');
}

const NO_MATCH = 'The TPM matches no enrollment.';

function wrapKey(keys: DeviceTpmKeys, key: Buffer, uri: string): string {
  try {
    return activationBlob(keys.endorsementKey, keys.storageRootKey, key, uri).toString('base64');
  } catch (err) {
    if (err instanceof TpmStructureError) throw new HttpError(400, 400004, err.message);
    throw err;
  }
}

/** Step 1: the unauthenticated register of an enrolled TPM gets 401 and the activation blob of a fresh key. */
export function tpmChallenge(
  ctx: AttestationContext,
  registrationId: string,
  tpm: { endorsementKey?: unknown; storageRootKey?: unknown },
): { status: 401; body: unknown } {
  const keys = {
    endorsementKey: decodeKey(tpm.endorsementKey, 'endorsementKey'),
    storageRootKey: decodeKey(tpm.storageRootKey, 'storageRootKey'),
  };
  // One answer for an unknown ID and for another EK: nothing tells a prober which registration IDs exist.
  if (!enrolledEndorsementKey(ctx, registrationId)?.equals(keys.endorsementKey))
    throw new HttpError(401, 401002, NO_MATCH);
  const key = randomBytes(HMAC_KEY_BYTES);
  const authenticationKey = wrapKey(keys, key, `${ctx.idScope}/registrations/${registrationId}`);
  challenges.set(challengeKey(ctx, registrationId), { ...keys, key, expiresAt: Date.now() + CHALLENGE_LIFETIME_MS });
  return { status: 401, body: { message: 'Unauthorized', authenticationKey, keyName: 'registration' } };
}

/** Step 2 (and every later call of the device): a SAS signed with the challenge key, by the TPM still enrolled. */
export function attestTpm(ctx: AttestationContext, sas: string, registrationId: string): Attested {
  const challenge = challenges.get(challengeKey(ctx, registrationId));
  if (!challenge || challenge.expiresAt < Date.now())
    throw new HttpError(401, 401002, 'No TPM challenge is open for this registration: register without a SAS first.');
  verifySas(parseSas(sas), `${ctx.idScope}/registrations/${registrationId}`, [challenge.key.toString('base64')]);
  const individual = ctx.state.enrollments.get(registrationId.toLowerCase());
  if (!individual || !enrolledEndorsementKey(ctx, registrationId)?.equals(challenge.endorsementKey))
    throw new HttpError(401, 401002, NO_MATCH);
  const { endorsementKey, storageRootKey } = challenge;
  return {
    source: { individual },
    auth: { type: 'sas' },
    runtime: {
      tpm: { endorsementKey: endorsementKey.toString('base64'), storageRootKey: storageRootKey.toString('base64') },
    },
    tpm: { endorsementKey, storageRootKey },
  };
}

/** Step 3: the hub identity's keys, the primary wrapped for the device's TPM. */
export function tpmHubIdentity(
  keys: DeviceTpmKeys,
  uri: string,
): { authentication: HubDevice['authentication']; authenticationKey: string } {
  const [primary, secondary] = [randomBytes(HMAC_KEY_BYTES), randomBytes(HMAC_KEY_BYTES)];
  return {
    authentication: {
      type: 'sas',
      symmetricKey: { primaryKey: primary.toString('base64'), secondaryKey: secondary.toString('base64') },
    },
    authenticationKey: wrapKey(keys, primary, uri),
  };
}
