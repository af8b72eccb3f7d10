/**
 * A fleet of device clients for `demo:fleet` and `bench:containment-effect`: each a connection to its hub through the
 * official device SDK (dev/hub-device.ts), with what its client saw — connected, disconnected by the hub (the SDK's
 * `disconnect` event), when — kept beside it, so a demo can print the clients' view next to the hubs' service API.
 */
import { type ConnectedDevice, connectHubDevice, type HubCredential } from './hub-device';

type Env = Record<string, string | undefined>;

export interface FleetDevice {
  deviceId: string;
  hub: string;
  kind: 'symmetric key' | 'X.509' | 'TPM';
  credential: HubCredential;
  /** Whether the incident targets it (the demo's second lot, the bench's group). */
  targeted: boolean;
  connection?: ConnectedDevice;
  connected: boolean;
  /** performance.now() when its client last saw the hub drop it. */
  disconnectedAt?: number;
}

/** Opens the device's connection and follows it: the SDK emits `disconnect` when the hub closes it. */
export async function connectFleetDevice(env: Env, device: FleetDevice): Promise<void> {
  const connection = await connectHubDevice(env, device.hub, device.deviceId, device.credential);
  device.connection = connection;
  device.connected = true;
  connection.client.on('disconnect', () => {
    if (device.connection !== connection) return;
    device.connected = false;
    device.disconnectedAt = performance.now();
  });
}

/** Closes the client on purpose (not counted as a disconnect by the hub). */
export async function closeFleetDevice(device: FleetDevice): Promise<void> {
  const connection = device.connection;
  device.connection = undefined;
  device.connected = false;
  await connection?.close().catch(() => undefined);
}

/**
 * Reconnects a device as field firmware does after the hub dropped it: tries again every `everyMs` until the hub
 * accepts it or `attempts` run out (bounded: a device still refused is reported, not waited for forever).
 */
export async function reconnect(env: Env, device: FleetDevice, attempts = 60, everyMs = 500): Promise<boolean> {
  await closeFleetDevice(device);
  for (let i = 0; i < attempts; i++) {
    try {
      await connectFleetDevice(env, device);
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
  return false;
}

/** Runs `work` over `items`, at most `concurrency` at a time. */
export async function inPool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Connected devices per hub: what the clients saw beside what the hubs' service API shows (`connectionState`). */
export function perHubTable(hubs: string[], devices: FleetDevice[], service: Map<string, Set<string>>): string {
  const width = Math.max(...hubs.map((h) => h.length), 3);
  const lines = [`  ${'hub'.padEnd(width)}  clients connected  service API Connected  (of which targeted)`];
  for (const hub of hubs) {
    const mine = devices.filter((d) => d.hub === hub);
    const seen = service.get(hub) ?? new Set<string>();
    const clients = mine.filter((d) => d.connected).length;
    const targeted = mine.filter((d) => d.targeted && seen.has(d.deviceId)).length;
    lines.push(
      `  ${hub.padEnd(width)}  ${String(clients).padStart(17)}  ${String(seen.size).padStart(21)}  ${String(targeted).padStart(19)}`,
    );
  }
  return lines.join('\n');
}
