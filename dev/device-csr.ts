/**
 * A device that asks DPS for its operational certificate (api-version 2026-11-01,
 * `RuntimeRegistration_RegisterDeviceAndIssueCertificate`): it makes an ECC P-384 key and a CSR whose CN is its
 * registration ID, sends the CSR (base64 DER, no PEM armour) in the register body, polls the operation, keeps its key,
 * and checks the chain it is given. The official Node device SDK sends no `csr` and pins older api-versions, so this is
 * the device API's own HTTPS exchange, authenticated as the SDK authenticates: a SAS from a symmetric key, a TLS client
 * certificate, or — for a TPM — the challenge answered inside the TPM through the official `azure-iot-security-tpm`
 * client (ActivateCredential + Import, then the SAS signed with the imported key), exactly the TPM client's steps.
 */
import 'reflect-metadata';

import { createPublicKey, webcrypto, X509Certificate } from 'node:crypto';

import * as x509 from '@peculiar/x509';
import { TpmSecurityClient } from 'azure-iot-security-tpm';

import { openTpm } from '../cli/tpm/connection';
import { call } from '../cli/tpm/identity';
import { iotTransport } from '../shared/azure/transport';
import { type JsonAnswer, jsonHttps } from './json-https';
import { sign } from './sim/sas';

x509.cryptoProvider.set(webcrypto as never);

const API_VERSION = '2026-11-01';
const GLOBAL = 'global.azure-devices-provisioning.net';
const ALG = { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' } as const;
type Env = Record<string, string | undefined>;

/** A new key pair and the CSR for it: base64 DER PKCS#10, CN = the registration ID, signed with SHA-384. */
export async function newCsr(registrationId: string): Promise<{ csr: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const request = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: [registrationId] }],
    keys,
    signingAlgorithm: ALG,
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    csr: Buffer.from(request.rawData).toString('base64'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
  };
}

export type DpsAnswer = JsonAnswer;

/** How the device proves itself to DPS on each call. */
export type DeviceAuth = { sas: string } | { certPem: string; keyPem: string } | { none: true };

/** One call of the device API (after the ID scope), as a device makes it; locally through the simulator's agent. */
export function deviceCall(
  env: Env,
  method: string,
  path: string,
  auth: DeviceAuth,
  body?: unknown,
): Promise<DpsAnswer> {
  const transport = iotTransport(env);
  const sep = path.includes('?') ? '&' : '?';
  return jsonHttps(
    {
      host: GLOBAL,
      path: `/${env.DPS_ID_SCOPE}${path}${sep}api-version=${API_VERSION}`,
      method,
      agent: transport?.agent,
      ...('certPem' in auth ? { cert: auth.certPem, key: auth.keyPem } : {}),
      headers: {
        'content-type': 'application/json; charset=utf-8',
        ...('sas' in auth ? { authorization: auth.sas } : {}),
      },
    },
    body,
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** PUT …/register, then the operation polled as DPS asks (Retry-After), until it is no longer assigning. */
async function registerAndPoll(env: Env, registrationId: string, auth: DeviceAuth, body: object): Promise<DpsAnswer> {
  const started = await deviceCall(env, 'PUT', `/registrations/${registrationId}/register`, auth, body);
  if (started.status !== 202 && started.status !== 200) return started;
  let answer = started;
  for (let i = 0; i < 120 && (answer.body.status === 'assigning' || answer.status === 202); i++) {
    await sleep(Number(answer.headers['retry-after'] ?? 0) * 1000 || 100);
    const opId = String(started.body.operationId);
    answer = await deviceCall(env, 'GET', `/registrations/${registrationId}/operations/${opId}`, auth);
  }
  return answer;
}

/** What a device holds after DPS issued its certificate. */
export interface IssuedDevice {
  registrationId: string;
  assignedHub: string;
  deviceId: string;
  /** The device's own key: it never left the device. */
  keyPem: string;
  /** As DPS returned it: base64 DER, leaf → intermediate → root. */
  issuedCertificateChain: string[];
  /** The whole operation DPS answered. */
  answer: DpsAnswer;
}

function issuedFrom(answer: DpsAnswer, keyPem: string): IssuedDevice {
  const state = (answer.body.registrationState ?? {}) as Record<string, unknown>;
  if (answer.status !== 200 || state.status !== 'assigned' || !Array.isArray(state.issuedCertificateChain))
    throw Object.assign(new Error(`DPS issued no certificate: ${answer.status} ${JSON.stringify(answer.body)}`), {
      answer,
    });
  return {
    registrationId: String(state.registrationId),
    assignedHub: String(state.assignedHub),
    deviceId: String(state.deviceId),
    keyPem,
    issuedCertificateChain: state.issuedCertificateChain as string[],
    answer,
  };
}

/** A symmetric-key device (individual key, or a group's derived key) that asks for its certificate. */
export async function registerSymmetricKeyDeviceWithCsr(
  env: Env,
  registrationId: string,
  deviceKey: string,
  payload?: unknown,
) {
  const resource = `${env.DPS_ID_SCOPE}/registrations/${registrationId}`;
  const expiry = Math.floor(Date.now() / 1000) + 3600;
  const sig = sign(encodeURIComponent(resource), deviceKey, expiry);
  const sas = `SharedAccessSignature sr=${encodeURIComponent(resource)}&sig=${encodeURIComponent(sig)}&se=${expiry}&skn=registration`;
  const { csr, keyPem } = await newCsr(registrationId);
  return issuedFrom(await registerAndPoll(env, registrationId, { sas }, { registrationId, csr, payload }), keyPem);
}

/** An X.509 device (its onboarding certificate and key in TLS) that asks for its operational certificate. */
export async function registerX509DeviceWithCsr(
  env: Env,
  registrationId: string,
  certChainPem: string,
  onboardingKeyPem: string,
  payload?: unknown,
) {
  const { csr, keyPem } = await newCsr(registrationId);
  const auth = { certPem: certChainPem, keyPem: onboardingKeyPem };
  return issuedFrom(await registerAndPoll(env, registrationId, auth, { registrationId, csr, payload }), keyPem);
}

/**
 * A TPM device at `tpmAddress` that asks for its certificate: the unauthenticated register DPS answers with the
 * challenge (401, `authenticationKey`), the challenge activated in the TPM, the SAS signed there, the register with the
 * CSR; the hub key DPS returns is activated in the TPM as the official client does. The CSR's key is a software key
 * here (a TPM-resident P-384 key would do as well; the CSR is the same).
 */
export async function registerTpmDeviceWithCsr(env: Env, tpmAddress: string, payload?: unknown): Promise<IssuedDevice> {
  const connection = await openTpm(tpmAddress);
  const security = new TpmSecurityClient(undefined, connection.tpm);
  try {
    const ek = await call<Buffer>((done) => security.getEndorsementKey(done));
    const srk = await call<Buffer>((done) => security.getStorageRootKey(done));
    const registrationId = await call<string>((done) => security.getRegistrationId(done));
    const tpm = { endorsementKey: ek.toString('base64'), storageRootKey: srk.toString('base64') };
    const challenge = await deviceCall(
      env,
      'PUT',
      `/registrations/${registrationId}/register`,
      { none: true },
      { registrationId, tpm },
    );
    if (challenge.status !== 401 || typeof challenge.body.authenticationKey !== 'string')
      throw new Error(`DPS sent no TPM challenge: ${challenge.status} ${JSON.stringify(challenge.body)}`);
    await call<void>((done) =>
      security.activateIdentityKey(Buffer.from(challenge.body.authenticationKey as string, 'base64'), done as never),
    );
    const audience = encodeURIComponent(`${env.DPS_ID_SCOPE}/registrations/${registrationId}`);
    const expiry = Math.floor(Date.now() / 1000) + 3600;
    const signed = await call<Buffer>((done) => security.signWithIdentity(Buffer.from(`${audience}\n${expiry}`), done));
    const sas = `SharedAccessSignature sr=${audience}&sig=${encodeURIComponent(signed.toString('base64'))}&se=${expiry}&skn=registration`;
    const { csr, keyPem } = await newCsr(registrationId);
    const issued = issuedFrom(
      await registerAndPoll(env, registrationId, { sas }, { registrationId, tpm, csr, payload }),
      keyPem,
    );
    const hubKey = (issued.answer.body.registrationState as { tpm?: { authenticationKey?: string } }).tpm
      ?.authenticationKey;
    if (hubKey) await call<void>((done) => security.activateIdentityKey(Buffer.from(hubKey, 'base64'), done as never));
    return issued;
  } finally {
    connection.close();
  }
}

/**
 * What a device checks of the chain it was given before it uses it: leaf first, each certificate issued and signed by
 * the next, ending at `root` (the namespace's root, which the device already trusts); the leaf's CN is its
 * registration ID, its key is the device's own, and it is valid for exactly `validityDays` (the policy's).
 */
export function checkIssuedChain(
  issued: Pick<IssuedDevice, 'issuedCertificateChain' | 'registrationId' | 'keyPem'>,
  expected: { rootDer: Buffer; validityDays: number },
): X509Certificate[] {
  const certs = issued.issuedCertificateChain.map((b64) => new X509Certificate(Buffer.from(b64, 'base64')));
  const problems: string[] = [];
  certs.forEach((c, i) => {
    const issuer = certs[i + 1] ?? c;
    if (!c.checkIssued(issuer) || !c.verify(issuer.publicKey))
      problems.push(`certificate ${i} is not signed by the next`);
  });
  const root = certs[certs.length - 1];
  if (!root?.raw.equals(expected.rootDer)) problems.push("the chain does not end at the namespace's root");
  const leaf = certs[0];
  if (leaf?.subject !== `CN=${issued.registrationId}`) problems.push(`the leaf's subject is ${leaf?.subject}`);
  const ownKey = createPublicKey(issued.keyPem).export({ format: 'der', type: 'spki' });
  if (leaf && !leaf.publicKey.export({ format: 'der', type: 'spki' }).equals(ownKey))
    problems.push("the leaf does not certify the device's own key");
  const days = leaf && (new Date(leaf.validTo).getTime() - new Date(leaf.validFrom).getTime()) / 86_400_000;
  if (days !== expected.validityDays) problems.push(`the leaf is valid for ${days} days, not ${expected.validityDays}`);
  if (problems.length) throw new Error(`the issued chain is not right: ${problems.join('; ')}`);
  return certs;
}

/** A chain as PEM, as TLS stacks take it. */
export const chainPem = (chain: string[]) =>
  chain.map((b64) => new X509Certificate(Buffer.from(b64, 'base64')).toString()).join('');
