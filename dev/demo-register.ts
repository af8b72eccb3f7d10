/**
 * `npm run demo:register [-- [--mqtt] [registrationId] [region]]`: a simulated device registers through the local
 * DPS with the official device SDK (HTTPS, or MQTT with `--mqtt`: the MQTT listener on localhost:8883, as a device
 * pointed at a private endpoint), via the demo group's custom allocation webhook, and we read it back from the hub
 * it landed on. Needs `npm start` running.
 */
import 'reflect-metadata';

import { deriveDeviceKey, registerSymmetricKeyDevice } from './device';
import { loadLocalSettings } from './local-settings';
import { DEMO_GROUP_ID } from './seed';

async function main(): Promise<void> {
  const env = loadLocalSettings().Values;
  Object.assign(process.env, env);
  const { buildServices } = await import('../shared/composition');
  const services = await buildServices(env);
  const group = await services.enrollments.getGroup(DEMO_GROUP_ID);
  if (!group) throw new Error(`enrollment group ${DEMO_GROUP_ID} not found: is npm start running?`);
  const args = process.argv.slice(2);
  const transport = args.includes('--mqtt') ? 'mqtt' : 'http';
  const [id, place] = args.filter((a) => a !== '--mqtt');
  const registrationId = id ?? `demo-device-${Date.now().toString(36)}`;
  const region = place ?? 'eu';
  const deviceKey = deriveDeviceKey(group.attestation.symmetricKey?.primaryKey as string, registrationId);

  const started = Date.now();
  const result = await registerSymmetricKeyDevice(
    { ...env, LOCAL_DPS_MQTT_HOST: 'localhost:8883' },
    registrationId,
    deviceKey,
    { modelId: 'dtmi:contoso:thermostat;1', region },
    transport,
  );
  console.log(
    `registered ${registrationId} over ${transport.toUpperCase()} (region ${region}) in ${Date.now() - started} ms → hub ${result.assignedHub}, device ${result.deviceId}, payload ${JSON.stringify(result.payload)}`,
  );
  const twin = await services.hubs.hub(result.assignedHub).getTwin(result.deviceId);
  console.log(
    `twin on ${result.assignedHub}: tags ${JSON.stringify(twin?.tags)}, desired ${JSON.stringify(twin?.properties?.desired)}`,
  );
  const state = await services.enrollments.getRegistrationState(registrationId);
  console.log(`DPS registration state: ${state?.status} (${state?.substatus}) on ${state?.assignedHub}`);
  await services.events.close();
}

main().catch((err) => {
  console.error(`demo:register failed: ${err?.message ?? err}`);
  process.exit(1);
});
