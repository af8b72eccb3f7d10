/**
 * Whether a device may connect to its hub, checked as IoT Hub checks it against the identity registry:
 * - `sas`: the password is a SAS token for `{hub}/devices/{deviceId}`, unexpired, signed with the device's primary or
 *   secondary key (a TPM device's key from DPS is such a key: the simulator stores it in the identity);
 * - `selfSigned`: the client certificate's SHA-256 or SHA-1 thumbprint is the primary or secondary thumbprint;
 * - `certificateAuthority`: the client certificate chains (through what the device presented) to one of the hub's
 *   verified CA certificates — or, for a certificate Azure Device Registry issued, the hub trusts it through ADR's
 *   credential sync (`TrustContext.trusts`) — and its subject CN is the device ID;
 * - certificates are refused outside their validity period; a disabled or unknown device is refused.
 * The answer is a reason to refuse, or undefined: the caller turns a reason into CONNACK 5 (see hub-mqtt.ts).
 */
import type { X509Certificate } from 'node:crypto';

import type { HubDevice } from '../../shared/dps-types';
import { parseSas, verifySas } from './sas';

export interface PresentedCredentials {
  /** The MQTT password (a SAS token), if any. */
  sas?: string;
  /** The TLS client certificate chain, leaf first; empty when none. */
  chain: X509Certificate[];
}

export interface TrustContext {
  /** The hub's verified CA certificates (root or intermediate), as uploaded and verified in the portal. */
  verifiedCas: X509Certificate[];
  now: Date;
  /**
   * Trust kept outside the hub's CA list: the issuing CAs that ADR's credential sync pushes to the hub, minus every
   * intermediate revokeAndRotate revoked (a predicate, not anchors: a revoked certificate anywhere in the chain refuses it).
   */
  trusts?: (chain: X509Certificate[]) => boolean;
}

const hex = (s: string | null | undefined) => (s ?? '').replace(/:/g, '').toUpperCase();

function inValidity(cert: X509Certificate, now: Date): boolean {
  return new Date(cert.validFrom) <= now && now <= new Date(cert.validTo);
}

/** The subject's CN, as IoT Hub compares it with the device ID for CA-signed devices. */
function commonName(cert: X509Certificate): string | undefined {
  return /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
}

/** True when `chain[0]` reaches a verified CA through certificates of `chain`, each in its validity period. */
export function chainsToVerifiedCa(chain: X509Certificate[], trust: TrustContext): boolean {
  let current = chain[0];
  const pool = chain.slice(1);
  for (let depth = 0; current && depth <= chain.length; depth++) {
    if (!inValidity(current, trust.now)) return false;
    const anchor = trust.verifiedCas.find(
      (ca) => ca.fingerprint256 === current.fingerprint256 || signedBy(current, ca),
    );
    if (anchor) return inValidity(anchor, trust.now);
    const next = pool.find((c) => signedBy(current, c));
    if (!next) return false;
    current = next;
  }
  return false;
}

export function refusalReason(
  hubHostName: string,
  deviceId: string,
  device: HubDevice | undefined,
  presented: PresentedCredentials,
  trust: TrustContext,
): string | undefined {
  if (!device) return `Device ${deviceId} is not registered on ${hubHostName}.`;
  if (device.status === 'disabled') return `Device ${deviceId} is disabled.`;
  const auth = device.authentication ?? { type: 'sas' };
  if (auth.type === 'sas') {
    if (!presented.sas) return `Device ${deviceId} authenticates with a SAS token, and none was given.`;
    try {
      const token = parseSas(presented.sas);
      const keys = [auth.symmetricKey?.primaryKey, auth.symmetricKey?.secondaryKey].filter((k): k is string => !!k);
      verifySas(token, `${hubHostName}/devices/${deviceId}`, keys, trust.now.getTime() / 1000);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  }
  const leaf = presented.chain[0];
  if (auth.type === 'selfSigned') {
    if (!leaf) return `Device ${deviceId} authenticates with a certificate, and none was presented.`;
    const thumbprints = [auth.x509Thumbprint?.primaryThumbprint, auth.x509Thumbprint?.secondaryThumbprint].map(hex);
    const presentedPrints = [hex(leaf.fingerprint256), hex(leaf.fingerprint)];
    if (!thumbprints.some((t) => t && presentedPrints.includes(t)))
      return `The certificate's thumbprint is not one of device ${deviceId}'s.`;
    return inValidity(leaf, trust.now) ? undefined : 'The certificate is outside its validity period.';
  }
  if (auth.type === 'certificateAuthority') {
    if (!leaf) return `Device ${deviceId} authenticates with a certificate, and none was presented.`;
    if (commonName(leaf) !== deviceId) return `The certificate's CN is not the device ID ${deviceId}.`;
    return chainsToVerifiedCa(presented.chain, trust) || trust.trusts?.(presented.chain)
      ? undefined
      : `The certificate does not chain to a verified CA of ${hubHostName}.`;
  }
  return `Device ${deviceId} has authentication type ${auth.type}.`;
}
