/**
 * `npm run demo:fleet [-- --devices N]` (with `npm start` running): N devices (default 50) provision through DPS and
 * the custom allocation webhook, connect to their hubs with the official device SDK and send telemetry — symmetric-key
 * members of the demo group, X.509 devices with individual enrollments, and a TPM device when swtpm is installed. A
 * second lot (individual enrollments tagged `manufacturer: globex`, `lot: …`, as an import tags them) is quarantined
 * by an incident one local admin submits and the other approves; the devices connected per hub are printed before,
 * after the incident (falling to what it left alone) and after its release (the lot's devices reconnect), as the
 * clients saw them beside what the hubs' service API shows (`connectionState`).
 */
import 'reflect-metadata';

import { randomBytes } from 'node:crypto';

import { TpmSecurityClient } from 'azure-iot-security-tpm';

import { openTpm } from '../cli/tpm/connection';
import { call } from '../cli/tpm/identity';
import { deriveDeviceKey, registerSymmetricKeyDevice, registerTpmDevice, registerX509Device } from './device';
import { connectFleetDevice, type FleetDevice, inPool, perHubTable, reconnect } from './fleet-devices';
import { ADMIN, connectedOnHubs, incidentApi, SECOND_ADMIN } from './fleet-ops';
import { loadLocalSettings } from './local-settings';
import { issue } from './pki';
import { DEMO_GROUP_ID } from './seed';
import { dpsServiceCall } from './seed-certificates';
import { findSwtpm, type RunningTpm, startSwtpm, SWTPM_INSTALL } from './swtpm';

const arg = (name: string) => process.argv[process.argv.indexOf(name) + 1];
const N = process.argv.includes('--devices') ? Number(arg('--devices')) : 50;
const step = (text: string) => console.log(`\n${text}`);

async function main(): Promise<void> {
  if (!Number.isInteger(N) || N < 4 || N > 500) throw new Error('--devices takes a whole number from 4 to 500');
  const settings = loadLocalSettings();
  const env: Record<string, string> = { LOCAL_HUB_GATEWAY_HOST: 'localhost', ...settings.Values };
  Object.assign(process.env, env);
  const baseUrl = `http://127.0.0.1:${settings.Host?.LocalHttpPort ?? 7071}`;
  if (!(await fetch(`${baseUrl}/api/health`).catch(() => undefined))?.ok)
    throw new Error(`no Functions host at ${baseUrl}: is npm start running?`);
  const group = await dpsServiceCall(env, 'GET', `/enrollmentGroups/${DEMO_GROUP_ID}`, undefined, '2021-10-01');
  if (group.status !== 200) throw new Error(`enrollment group ${DEMO_GROUP_ID} not found: is npm start running?`);
  const groupKey = (group.body.attestation as { symmetricKey: { primaryKey: string } }).symmetricKey.primaryKey;
  const custom = { allocationPolicy: 'custom', customAllocationDefinition: group.body.customAllocationDefinition };
  const hubs = env.IOTHUB_HOST_NAMES.split(',');
  const run = Date.now().toString(36);
  const lot = `FLEET-${run}`;
  const devices: FleetDevice[] = [];
  const started = performance.now();

  const lotSize = Math.round(N * 0.4);
  const x509Count = Math.round((N - lotSize) / 3);
  const tpmPath = findSwtpm();
  const tpmCount = tpmPath ? 1 : 0;
  const groupCount = N - lotSize - x509Count - tpmCount;
  console.log(
    `demo:fleet — ${N} devices: ${groupCount} symmetric-key (group ${DEMO_GROUP_ID}), ${x509Count} X.509, ${tpmCount} TPM, and lot ${lot} of ${lotSize} (globex, symmetric key)`,
  );
  if (!tpmPath) console.log(`  TPM devices skipped: swtpm is not installed (${SWTPM_INSTALL})`);

  step(`1. provisioning through DPS and the custom allocation webhook, then connecting and sending telemetry`);
  const put = async (registrationId: string, body: object) => {
    const answer = await dpsServiceCall(
      env,
      'PUT',
      `/enrollments/${registrationId}`,
      { registrationId, ...body, ...custom },
      '2021-10-01',
    );
    if (answer.status !== 200)
      throw new Error(`enrollment ${registrationId}: ${answer.status} ${JSON.stringify(answer.body)}`);
  };
  const plan = [
    ...Array.from({ length: groupCount }, (_, i) => ({
      kind: 'symmetric key' as const,
      id: `fleet-${run}-sk-${i}`,
      lot: false,
    })),
    ...Array.from({ length: x509Count }, (_, i) => ({
      kind: 'X.509' as const,
      id: `fleet-${run}-x509-${i}`,
      lot: false,
    })),
    ...Array.from({ length: lotSize }, (_, i) => ({
      kind: 'symmetric key' as const,
      id: `globex-${run}-${i}`,
      lot: true,
    })),
  ];
  await inPool(plan, 6, async ({ kind, id, lot: inLot }) => {
    let device: FleetDevice;
    if (kind === 'X.509') {
      const cert = await issue({ subject: `CN=${id}` });
      await put(id, {
        attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: cert.certPem } } } },
      });
      const r = await registerX509Device(env, id, cert.certPem, cert.keyPem);
      device = {
        deviceId: r.deviceId,
        hub: r.assignedHub,
        kind,
        credential: { type: 'x509', ...cert },
        targeted: false,
        connected: false,
      };
    } else {
      const key = inLot ? randomBytes(32).toString('base64') : deriveDeviceKey(groupKey, id);
      if (inLot)
        await put(id, {
          attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: key, secondaryKey: key } },
          initialTwin: { tags: { manufacturer: 'globex', lot } },
        });
      const r = await registerSymmetricKeyDevice(env, id, key);
      device = {
        deviceId: r.deviceId,
        hub: r.assignedHub,
        kind,
        credential: { type: 'sas', key },
        targeted: inLot,
        connected: false,
      };
    }
    await connectFleetDevice(env, device);
    await device.connection?.send({ kwh: Math.round(Math.random() * 100) / 10 });
    devices.push(device);
  });
  let tpm: RunningTpm | undefined;
  let closeTpm = () => undefined as void;
  if (tpmPath) {
    tpm = await startSwtpm();
    const connection = await openTpm(tpm.address);
    const security = new TpmSecurityClient(undefined, connection.tpm);
    const ek = await call<Buffer>((done) => security.getEndorsementKey(done));
    const registrationId = await call<string>((done) => security.getRegistrationId(done));
    connection.close();
    await put(registrationId, { attestation: { type: 'tpm', tpm: { endorsementKey: ek.toString('base64') } } });
    const registered = await registerTpmDevice(env, tpm.address);
    closeTpm = () => registered.close();
    const { assignedHub, deviceId } = registered.registration;
    const device: FleetDevice = {
      deviceId,
      hub: assignedHub,
      kind: 'TPM',
      credential: { type: 'signer', sign: registered.sign },
      targeted: false,
      connected: false,
    };
    await connectFleetDevice(env, device);
    await device.connection?.send({ tpm: true });
    devices.push(device);
  }
  console.log(
    `  ${devices.length} devices provisioned, connected and sent telemetry in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(perHubTable(hubs, devices, await connectedOnHubs(env, hubs)));
  console.log(
    '  the console shows it live: Allocation → connected per hub; Incidents → the incident → its devices connected when planned and now',
  );

  const api = incidentApi(baseUrl, env.DEV_FUNCTION_KEY);
  const id = `fleet-${run}`;
  step(`2. incident ${id}: quarantine lot ${lot} (globex), submitted by "local admin"`);
  const submitted = await api.post(
    '/api/incidents',
    { id, reason: 'lot recalled', mode: 'quarantine', scope: { lot: { manufacturer: 'globex', lot } } },
    ADMIN,
  );
  console.log(`  POST /api/incidents → ${submitted.status}`);
  const planned = await api.waitFor(id, ['awaitingApproval', 'running', 'quarantined', 'failed', 'nothingFound']);
  console.log(
    `  plan: ${JSON.stringify((planned.plan as { devices?: number })?.devices)} devices, status ${String(planned.status)}`,
  );
  if (planned.status === 'awaitingApproval') {
    const own = await api.post(`/api/incidents/${id}/approve`, {}, ADMIN);
    console.log(`  approved by its submitter → ${own.status} (${String(own.body.reason ?? '')})`);
    const other = await api.post(`/api/incidents/${id}/approve`, {}, SECOND_ADMIN);
    console.log(`  approved by "local admin 2" → ${other.status}`);
  }
  const done = await api.waitFor(id, ['quarantined', 'failed']);
  console.log(`  incident ${String(done.status)}`);
  await waitUntil(() => devices.filter((d) => d.targeted).every((d) => !d.connected), 30_000);
  console.log(perHubTable(hubs, devices, await connectedOnHubs(env, hubs)));

  step(`3. release: the lot's devices are enabled again and reconnect`);
  console.log(
    `  POST /api/incidents/${id}/release → ${(await api.post(`/api/incidents/${id}/release`, {}, ADMIN)).status}`,
  );
  console.log(`  incident ${String((await api.waitFor(id, ['released', 'failed'])).status)}`);
  const back = await Promise.all(devices.filter((d) => d.targeted).map((d) => reconnect(env, d)));
  console.log(`  ${back.filter(Boolean).length} of ${back.length} lot devices reconnected`);
  console.log(perHubTable(hubs, devices, await connectedOnHubs(env, hubs)));

  await Promise.all(devices.map((d) => d.connection?.close().catch(() => undefined)));
  closeTpm();
  await tpm?.stop();
  console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function waitUntil(condition: () => boolean, withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  while (!condition() && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`demo:fleet failed: ${(err as Error)?.message ?? err}`);
    process.exit(1);
  },
);
