/**
 * How the local DPS knows a device, as DPS does: a SAS signed with an individual or group-derived symmetric key, a
 * TLS client certificate matching an individual enrollment or chaining to a group's signer, or a SAS signed with the
 * key a TPM challenge handed the device (tpm-attestation.ts).
 */
import { X509Certificate as NodeX509 } from 'node:crypto';
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';

import type { AttestationContext, Attested } from './attestation-types';
import { certificateInfo } from './certificates';
import { deriveDeviceKey, parseSas, verifySas } from './sas';
import { attestTpm, isTpmEnrollment } from './tpm-attestation';
import { HttpError } from './wire';

export type { AttestationContext, Attested, Source } from './attestation-types';

/** What a device presents, whatever the transport: a SAS (HTTP Authorization, MQTT password) or its TLS chain. */
export interface DeviceCredentials {
  sas?: string;
  chain: NodeX509[];
}

function attestSymmetricKey(ctx: AttestationContext, sas: string, registrationId: string): Attested {
  const token = parseSas(sas);
  const resource = `${ctx.idScope}/registrations/${registrationId}`;
  const individual = ctx.state.enrollments.get(registrationId.toLowerCase());
  const tryKeys = (keys: (string | undefined)[]) => {
    try {
      verifySas(
        token,
        resource,
        keys.filter((k): k is string => !!k),
      );
      return true;
    } catch {
      return false;
    }
  };
  if (individual?.attestation.type === 'symmetricKey') {
    const k = individual.attestation.symmetricKey ?? {};
    if (tryKeys([k.primaryKey, k.secondaryKey]))
      return {
        source: { individual },
        auth: { type: 'sas', symmetricKey: { primaryKey: k.primaryKey, secondaryKey: k.secondaryKey } },
        runtime: { symmetricKey: {} },
      };
  }
  for (const group of ctx.state.groups.values()) {
    if (group.attestation.type !== 'symmetricKey') continue;
    const k = group.attestation.symmetricKey ?? {};
    const derived = [k.primaryKey, k.secondaryKey].map((key) => key && deriveDeviceKey(key, registrationId));
    if (tryKeys(derived))
      return {
        source: { group },
        auth: { type: 'sas', symmetricKey: { primaryKey: derived[0], secondaryKey: derived[1] } },
        runtime: { symmetricKey: {} },
      };
  }
  verifySas(token, resource, []); // throws the precise 401 (expired, wrong resource, bad signature)
  throw new HttpError(401, 401002, 'Unauthorized');
}

/** The certificate chain a TLS client presented (leaf first). */
export function presentedChain(socket: TLSSocket): NodeX509[] {
  const chain: NodeX509[] = [];
  let peer: PeerCertificate | DetailedPeerCertificate | undefined = socket.getPeerCertificate?.(true);
  const seen = new Set<string>();
  while (peer && peer.raw && !seen.has(peer.fingerprint256)) {
    seen.add(peer.fingerprint256);
    chain.push(new NodeX509(peer.raw));
    peer = (peer as DetailedPeerCertificate).issuerCertificate;
  }
  return chain;
}

/**
 * DPS's disallow rule (how-to-revoke-device-access-portal, and the seed on rolling certificates): a certificate that is
 * part of a *disabled* enrollment entry fails every registration that uses it, even where another entry enables it.
 * A chain uses a certificate it presents, the group signer that verified it, and the CA that issued either.
 */
function disallowingEntry(ctx: AttestationContext, used: NodeX509[]): string | undefined {
  const entries = [
    ...[...ctx.state.groups.values()].map((g) => ({ entry: g, key: 'g:' + g.enrollmentGroupId.toLowerCase() })),
    ...[...ctx.state.enrollments.values()].map((e) => ({ entry: e, key: 'e:' + e.registrationId.toLowerCase() })),
  ];
  for (const { entry, key } of entries) {
    if (entry.provisioningStatus !== 'disabled' || entry.attestation.type !== 'x509') continue;
    for (const held of ctx.certificates.get(key)?.values() ?? []) {
      const inChain = used.some(
        (c) => c.fingerprint256 === held.fingerprint256 || (c.checkIssued(held) && c.verify(held.publicKey)),
      );
      if (inChain) return key.startsWith('g:') ? `enrollment group ${key.slice(2)}` : `enrollment ${key.slice(2)}`;
    }
  }
  return undefined;
}

function attestX509(ctx: AttestationContext, chain: NodeX509[], registrationId: string): Attested {
  const leaf = chain[0];
  if (!leaf) throw new HttpError(401, 401002, 'No client certificate was presented.');
  const cn = /CN=([^\n,]+)/.exec(leaf.subject)?.[1];
  if (cn?.toLowerCase() !== registrationId.toLowerCase())
    throw new HttpError(401, 401002, `The certificate's CN (${cn}) is not the registration ID.`);
  // The X.509 context in the shape of DPS's own registration state (`X509RegistrationResult`): the likeliest reading
  // of the "certificate details" Microsoft documents; the webhook reads the other shapes too (x509-context.ts).
  const runtime = { x509: { certificateInfo: certificateInfo(leaf) } };
  // DPS creates every X.509 device on the hub as `selfSigned` with the presented certificate's SHA-256 thumbprint in
  // both slots, whether it came through an individual enrollment or a CA group (what users of real DPS report:
  // azure-docs #70976 and #108289, azure-iot-sdk-csharp #3360, iotedge #2951).
  const thumbprint = leaf.fingerprint256.replace(/:/g, '');
  const auth = {
    type: 'selfSigned' as const,
    x509Thumbprint: { primaryThumbprint: thumbprint, secondaryThumbprint: thumbprint },
  };
  const individual = ctx.state.enrollments.get(registrationId.toLowerCase());
  if (individual?.attestation.type === 'x509') {
    const slots = individual.attestation.x509?.clientCertificates ?? {};
    const thumbs = [slots.primary?.info?.sha256Thumbprint, slots.secondary?.info?.sha256Thumbprint];
    if (thumbs.includes(thumbprint))
      return { source: { individual }, auth, runtime, disallowedBy: disallowingEntry(ctx, chain) };
  }
  const now = Date.now();
  for (const group of ctx.state.groups.values()) {
    if (group.attestation.type !== 'x509') continue;
    const signers = ctx.certificates.get('g:' + group.enrollmentGroupId.toLowerCase());
    for (const signer of signers?.values() ?? []) {
      if (new Date(signer.validTo).getTime() < now) continue;
      // The signer must have issued some certificate of the presented chain, and every link below it must verify.
      const at = chain.findIndex((c) => c.checkIssued(signer) && c.verify(signer.publicKey));
      const linksHold =
        at >= 0 && chain.slice(0, at).every((c, i) => c.checkIssued(chain[i + 1]) && c.verify(chain[i + 1].publicKey));
      if (linksHold && chain.slice(0, at + 1).every((c) => new Date(c.validTo).getTime() > now)) {
        const x509 = {
          ...runtime.x509,
          enrollmentGroupId: group.enrollmentGroupId,
          signingCertificateInfo: certificateInfo(signer),
        };
        return { source: { group }, auth, runtime: { x509 }, disallowedBy: disallowingEntry(ctx, [...chain, signer]) };
      }
    }
  }
  throw new HttpError(401, 401002, 'The client certificate matches no enrollment.');
}

/**
 * What the device API's DeviceRegistrationResult says of how the device was admitted: `x509` (its certificate, and
 * the group's signer) or `symmetricKey` (its group); the service API's registration state says neither.
 */
export function admittedBy(attested: Attested): {
  x509?: Record<string, unknown>;
  symmetricKey?: { enrollmentGroupId?: string };
} {
  const x509 = attested.runtime.x509 as Record<string, unknown> | undefined;
  if (x509) return { x509 };
  if (attested.runtime.symmetricKey && attested.source.group)
    return { symmetricKey: { enrollmentGroupId: attested.source.group.enrollmentGroupId } };
  return {};
}

/** Who the device is, by what it presents; throws the 401 DPS answers when that proves nothing. */
export function attest(ctx: AttestationContext, credentials: DeviceCredentials, registrationId: string): Attested {
  if (credentials.sas && isTpmEnrollment(ctx, registrationId)) return attestTpm(ctx, credentials.sas, registrationId);
  if (credentials.sas) return attestSymmetricKey(ctx, credentials.sas, registrationId);
  if (credentials.chain.length) return attestX509(ctx, credentials.chain, registrationId);
  throw new HttpError(401, 401002, 'No credentials: send a SharedAccessSignature or a client certificate.');
}
