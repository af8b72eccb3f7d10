/**
 * `npm run demo:certificates` (with `npm start` running): certificate issuance on the local stack. The demo ADR
 * namespace, CAs and policy and the demo group that names it are there (seeded by `npm start`, seeded again here if
 * not); a symmetric-key device, an X.509 device and — when swtpm is installed — a TPM device onboard, send a CSR, get a
 * chain, check it against the namespace's root and the policy's days, keep their keys under `.data/demo-certificates/`,
 * are read back from their hubs, connect with their certificate and report it in their twin (`certificate`: validity,
 * thumbprint, issuer) as such devices do; the issued-certificate sweep then runs, and the console's Certificates view
 * lists them with their policy, end and renewal point.
 */
import 'reflect-metadata';

import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  checkIssuedChain,
  deriveDeviceKey,
  type IssuedDevice,
  registerSymmetricKeyDeviceWithCsr,
  registerTpmDeviceWithCsr,
  registerX509DeviceWithCsr,
} from './device';
import { chainPem } from './device-csr';
import { connectHubDevice } from './hub-device';
import { loadLocalSettings, ROOT } from './local-settings';
import { issue } from './pki';
import { DEMO_ADR, dpsServiceCall, seedAdrDemo, seedCertificatesGroup } from './seed-certificates';
import { findSwtpm, startSwtpm } from './swtpm';

const names = {
  namespaceName: DEMO_ADR.namespace,
  certificateAuthorityName: DEMO_ADR.ica,
  certificatePolicyName: DEMO_ADR.policy,
};

async function main(): Promise<void> {
  const settings = loadLocalSettings();
  // The hubs' device endpoint is the local MQTT listener, reached as a gateway (as demo:fleet reaches it).
  const env: Record<string, string> = { LOCAL_HUB_GATEWAY_HOST: 'localhost', ...settings.Values };
  Object.assign(process.env, env);
  const baseUrl = `http://127.0.0.1:${settings.Host?.LocalHttpPort ?? 7071}`;
  await seedAdrDemo(env);
  const { primaryKey } = await seedCertificatesGroup(env);
  // The namespace's root, which a device is given out of band (locally: from the ADR's data, where `npm start` keeps it).
  const adr = JSON.parse(readFileSync(join(ROOT, '.data', 'adr', 'adr.json'), 'utf8')) as {
    cas: Record<string, { properties: { certificatePem: string } }>;
  };
  const rootPem = adr.cas[`${DEMO_ADR.namespace}/${DEMO_ADR.root}`].properties.certificatePem;
  const rootDer = Buffer.from(new X509Certificate(rootPem).raw);
  const out = join(ROOT, '.data', 'demo-certificates');
  mkdirSync(out, { recursive: true });
  const { buildServices } = await import('../shared/composition');
  const services = await buildServices(env);
  const suffix = Date.now().toString(36);

  const report = async (kind: string, issued: IssuedDevice) => {
    const [leaf, ica] = checkIssuedChain(issued, { rootDer, validityDays: DEMO_ADR.validityPeriodInDays });
    writeFileSync(join(out, `${issued.registrationId}.key`), issued.keyPem, { mode: 0o600 });
    writeFileSync(join(out, `${issued.registrationId}.pem`), chainPem(issued.issuedCertificateChain));
    const identity = await services.hubs.hub(issued.assignedHub).getDevice(issued.deviceId);
    console.log(`${kind.padEnd(14)} ${issued.registrationId} → ${issued.assignedHub}`);
    console.log(`               certificate ${leaf.subject} by ${ica.subject}, valid until ${leaf.validTo}`);
    console.log(`               on the hub: authentication ${identity?.authentication?.type}; key and chain in ${out}`);
    // Connected with its certificate, it says in its twin what it holds: how the backend learns issued certificates.
    const device = await connectHubDevice(env, issued.assignedHub, issued.deviceId, {
      type: 'x509',
      certPem: chainPem(issued.issuedCertificateChain),
      keyPem: issued.keyPem,
    });
    await device.report({
      certificate: {
        validFrom: new Date(leaf.validFrom).toISOString(),
        validUntil: new Date(leaf.validTo).toISOString(),
        thumbprint: leaf.fingerprint256.replace(/:/g, ''),
        serialNumber: leaf.serialNumber,
        issuer: leaf.issuer,
      },
    });
    await device.close();
    console.log(`               connected with it, and reported it in its twin`);
  };

  const skId = `demo-cert-sk-${suffix}`;
  await report('symmetric key', await registerSymmetricKeyDeviceWithCsr(env, skId, deriveDeviceKey(primaryKey, skId)));

  const x509Id = `demo-cert-x509-${suffix}`;
  const maker = await issue({ subject: 'CN=Demo maker root', isCa: true });
  const onboarding = await issue({ subject: `CN=${x509Id}`, issuer: maker });
  const put = await dpsServiceCall(env, 'PUT', `/enrollments/${x509Id}`, {
    registrationId: x509Id,
    attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: onboarding.certPem } } } },
    ...names,
  });
  if (put.status !== 200) throw new Error(`enrollment ${x509Id}: ${put.status} ${JSON.stringify(put.body)}`);
  await report('X.509', await registerX509DeviceWithCsr(env, x509Id, onboarding.certPem, onboarding.keyPem));

  if (findSwtpm()) await tpmDevice(env, report);
  else console.log('TPM            skipped: swtpm is not installed');

  // The hourly sweep, run now (the local host runs any function on demand with its master key).
  const swept = await fetch(`${baseUrl}/admin/functions/expiry-sweep`, {
    method: 'POST',
    headers: { 'x-functions-key': env.DEV_MASTER_KEY, 'content-type': 'application/json' },
    body: '{}',
  }).catch((err: unknown) => ({ ok: false, status: String(err) }));
  console.log(
    swept.ok
      ? `issued-certificate sweep run: the console's Certificates view lists them (${baseUrl}/api/console)`
      : `the sweep could not be run (${swept.status}): is npm start running?`,
  );
}

async function tpmDevice(
  env: Record<string, string>,
  report: (kind: string, issued: IssuedDevice) => Promise<void>,
): Promise<void> {
  const tpm = await startSwtpm();
  try {
    const { TpmSecurityClient } = await import('azure-iot-security-tpm');
    const { openTpm } = await import('../cli/tpm/connection');
    const { call } = await import('../cli/tpm/identity');
    const connection = await openTpm(tpm.address);
    const client = new TpmSecurityClient(undefined, connection.tpm);
    const ek = await call<Buffer>((done) => client.getEndorsementKey(done));
    const id = await call<string>((done) => client.getRegistrationId(done));
    connection.close();
    await dpsServiceCall(env, 'PUT', `/enrollments/${id}`, {
      registrationId: id,
      attestation: { type: 'tpm', tpm: { endorsementKey: ek.toString('base64') } },
      ...names,
    });
    await report('TPM (swtpm)', await registerTpmDeviceWithCsr(env, tpm.address));
  } finally {
    await tpm.stop();
  }
}

// The event log's writer and the SDK clients keep handles open: the demo ends when its devices are done.
main().then(
  () => process.exit(0),
  (err) => {
    console.error(`demo:certificates failed: ${err?.message ?? err}`);
    process.exit(1);
  },
);
