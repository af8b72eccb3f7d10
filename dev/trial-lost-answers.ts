/**
 * `npm run trial:lost-answers [-- --rate 0.05 --rows 300 --lot 40]`, against `LOCAL_FAULTS_FILE=… npm start`: the
 * trial of issue #23 on the running backend. The plan in the faults file becomes `rate` of the answers of the local
 * DPS, every hub and Cosmos lost after the request was applied (the stack reloads it within a second); then
 * 1. a maker imports `rows` TPM rows over HTTP (the upload retried on a lost answer with its Idempotency-Key);
 * 2. a lot of `lot` symmetric-key devices registers through DPS and the webhook, and one admin's incident contains it,
 *    approved by the other;
 * then the faults are switched off and what happened is read from the services themselves: every row enrolled in DPS
 * once and counted once, every device of the lot gone from its hub and its DPS registration record deleted.
 */
import 'reflect-metadata';

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { buildServices } from '../shared/composition';
import { retryThrottled } from '../shared/retry';
import { registerSymmetricKeyDevice } from './device';
import { writeEkFile } from './ek-factory';
import { faultsFile } from './faults/settings';
import { ADMIN, incidentApi, SECOND_ADMIN } from './fleet-ops';
import { loadLocalSettings } from './local-settings';
import { dpsServiceCall } from './seed-certificates';

const arg = (name: string, fallback: number) =>
  process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback;
const RATE = arg('--rate', 0.05);
const ROWS = arg('--rows', 300);
const LOT = arg('--lot', 40);
const MAKER = { authorization: 'Bearer dev-acme-tpm-secret-not-a-secret' };
const COSMOS_DATA = ['read', 'create', 'upsert', 'replace', 'delete', 'patch', 'query', 'batch', 'bulk', 'readAll'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A call of the trial's own (setup, a device, a poll) tried again after a lost answer, as a client would. */
async function persist<T>(what: string, call: () => Promise<T>, ok: (t: T) => boolean = () => true): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      const result = await call();
      if (ok(result) || tries >= 30) return result;
    } catch (err) {
      if (tries >= 30) throw new Error(`${what}: ${String(err)}`);
    }
    await sleep(300);
  }
}

async function main(): Promise<void> {
  const settings = loadLocalSettings();
  const env: Record<string, string> = { ...settings.Values, ...(process.env as Record<string, string>) };
  Object.assign(process.env, env);
  const file = faultsFile(env);
  if (!file) throw new Error('start the stack with a faults file: LOCAL_FAULTS_FILE=.data/faults.json npm start');
  const baseUrl = `http://127.0.0.1:${settings.Host?.LocalHttpPort ?? 7071}`;
  if (!(await fetch(`${baseUrl}/api/health`).catch(() => undefined))?.ok)
    throw new Error(`no Functions host at ${baseUrl}: is npm start running?`);
  const key = { 'x-functions-key': env.DEV_FUNCTION_KEY };
  const run = randomBytes(3).toString('hex');
  const previous = (() => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      return JSON.stringify({ rules: [] });
    }
  })();
  const lose = (service: 'dps' | 'iothub' | 'cosmos') => ({
    service,
    ...(service === 'cosmos' ? { operation: COSMOS_DATA } : {}),
    probability: RATE,
    fault: { kind: 'resetAfterApply' },
  });
  writeFileSync(file, JSON.stringify({ seed: 23, rules: [lose('dps'), lose('iothub'), lose('cosmos')] }, null, 2));
  console.log(`${RATE * 100} % of the answers of DPS, the hubs and Cosmos lost after apply (${file}); run ${run}`);
  await sleep(2500); // the stack reads the file again within a second
  const started = Date.now();
  let jobId = '';
  const lotIds = Array.from({ length: LOT }, (_, i) => `globex-trial-${run}-${i}`);
  const lot = `TRIAL-${run}`;
  const incidentId = `trial-${run}`;
  try {
    // 1. The import, with the maker's retries.
    const csv = join(tmpdir(), `trial-${run}.csv`);
    await writeEkFile(csv, ROWS, { prefix: `acme-trial-${run}-` });
    const body = readFileSync(csv);
    const upload = await persist(
      'upload',
      () =>
        fetch(`${baseUrl}/api/manufacturers/acme-tpm/imports`, {
          method: 'POST',
          headers: { ...key, ...MAKER, 'content-type': 'text/csv', 'idempotency-key': `trial-${run}` },
          body,
        }),
      (res) => res.status < 500,
    );
    if (upload.status !== 202) throw new Error(`upload: ${upload.status} ${await upload.text()}`);
    jobId = ((await upload.json()) as { jobId: string }).jobId;
    console.log(`1. import ${jobId} of ${ROWS} rows accepted`);

    // 2. The lot registers, and is contained.
    await Promise.all(
      lotIds.map(async (id) => {
        const deviceKey = randomBytes(32).toString('base64');
        await persist(
          `enrollment ${id}`,
          () =>
            dpsServiceCall(
              env,
              'PUT',
              `/enrollments/${id}`,
              {
                registrationId: id,
                attestation: { type: 'symmetricKey', symmetricKey: { primaryKey: deviceKey, secondaryKey: deviceKey } },
                initialTwin: { tags: { manufacturer: 'globex', lot } },
              },
              '2021-10-01',
            ),
          (a) => a.status === 200,
        );
        await persist(`register ${id}`, () => registerSymmetricKeyDevice(env, id, deviceKey));
      }),
    );
    console.log(`2. lot ${lot}: ${LOT} devices registered through DPS and the webhook`);
    const api = incidentApi(baseUrl, env.DEV_FUNCTION_KEY);
    const request = {
      id: incidentId,
      reason: 'lot stolen',
      mode: 'contain',
      scope: { lot: { manufacturer: 'globex', lot } },
    };
    await persist(
      'report',
      () => api.post('/api/incidents', request, ADMIN),
      (a) => a.status < 500,
    );
    await persist(
      'plan',
      () => api.get(incidentId),
      (i) => ['awaitingApproval', 'running', 'contained'].includes(String(i.status)),
    );
    await persist(
      'approve',
      () => api.post(`/api/incidents/${incidentId}/approve`, {}, SECOND_ADMIN),
      (a) => a.status < 500,
    );
    console.log(`   incident ${incidentId} approved by the second admin`);

    // Both finish, or say why not, within 8 minutes.
    for (const until = Date.now() + 8 * 60_000; Date.now() < until; await sleep(1000)) {
      const job = await fetch(`${baseUrl}/api/manufacturers/acme-tpm/imports/${jobId}`, {
        headers: { ...key, ...MAKER },
      })
        .then((r) => (r.ok ? (r.json() as Promise<{ status: string }>) : undefined))
        .catch(() => undefined);
      const incident = await api.get(incidentId).catch(() => undefined);
      if (
        ['done', 'failed'].includes(String(job?.status)) &&
        ['contained', 'failed'].includes(String(incident?.status))
      )
        break;
    }
  } finally {
    writeFileSync(file, previous);
    await sleep(2500);
  }
  console.log(`\nfaults off after ${((Date.now() - started) / 1000).toFixed(0)} s; what the services hold:`);
  await report(env, baseUrl, key, jobId, run, { ids: lotIds, lot, incidentId });
}

async function report(
  env: Record<string, string>,
  baseUrl: string,
  key: Record<string, string>,
  jobId: string,
  run: string,
  { ids: lotIds, lot, incidentId }: { ids: string[]; lot: string; incidentId: string },
): Promise<void> {
  const job = (await (
    await fetch(`${baseUrl}/api/manufacturers/acme-tpm/imports/${jobId}`, { headers: { ...key, ...MAKER } })
  ).json()) as { status: string; counts: Record<string, number> };
  let enrolled = 0;
  for (let i = 0; i < ROWS; i++) {
    const id = `acme-trial-${run}-${String(i).padStart(8, '0')}`;
    if ((await dpsStatus(env, `/enrollments/${id}`)) === 200) enrolled++;
  }
  console.log(
    `  import ${jobId}: ${job.status}, counts ${JSON.stringify(job.counts)}; DPS holds ${enrolled} of the ${ROWS} rows`,
  );
  const incident = await incidentApi(baseUrl, env.DEV_FUNCTION_KEY).get(incidentId);
  let records = 0;
  for (const id of lotIds) if ((await dpsStatus(env, `/registrations/${id}`)) === 200) records++;
  console.log(
    `  incident ${incidentId}: ${String(incident.status)}; DPS registration records of the lot left: ${records} of ${lotIds.length}`,
  );
  const hubsLeft = await devicesLeftOnHubs(env, lot);
  console.log(`  devices of the lot left on their hubs: ${hubsLeft} of ${lotIds.length}`);
  const exact = enrolled === ROWS && job.counts.enrolled === ROWS && records === 0 && hubsLeft === 0;
  console.log(exact ? '\nevery row enrolled once, every device of the lot removed' : '\nNOT EXACT: see above');
  if (!exact) process.exitCode = 1;
}

/** The lot's devices any linked hub still holds: one twin query per hub through the backend's own adapter. */
async function devicesLeftOnHubs(env: Record<string, string>, lot: string): Promise<number> {
  const services = await buildServices(env);
  let left = 0;
  for (const host of services.hubs.hostNames()) {
    let token: string | undefined;
    do {
      const page = await retryThrottled(() =>
        services.hubs.hub(host).queryTwins(`SELECT * FROM devices WHERE tags.lot = '${lot}'`, 100, token),
      );
      left += page.items.length;
      token = page.continuationToken;
    } while (token);
  }
  await services.events.close();
  return left;
}

/** A DPS read for the report, its 429s waited out (the report's reads share DPS's quota with the backend). */
async function dpsStatus(env: Record<string, string>, path: string): Promise<number> {
  for (;;) {
    const answer = await dpsServiceCall(env, 'GET', path, undefined, '2021-10-01');
    if (answer.status !== 429) return answer.status;
    await sleep(Number(answer.headers['retry-after'] ?? 1) * 1000);
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
