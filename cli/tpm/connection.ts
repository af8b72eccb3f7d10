/**
 * A TPM 2.0 to talk to, where a factory station or a device finds one: the kernel's resource manager
 * (`/dev/tpmrm0`, or any TPM character device) or a TCP TPM in the command framing of swtpm and of tpm2-abrmd's
 * simulator interface (`host:port`). With no address, the choice the official TPM client makes: `/dev/tpmrm0` when
 * present, else `127.0.0.1:2323`.
 */
import { existsSync, openSync } from 'node:fs';
import { createConnection } from 'node:net';

import { Tpm, TpmLinuxDevice, TpmTcpDevice } from 'tss.js';

export const DEFAULT_TPM_DEVICE = '/dev/tpmrm0';
export const DEFAULT_TPM_TCP = '127.0.0.1:2323';

export interface TpmConnection {
  tpm: Tpm;
  /** Where it is, as the operator named it. */
  address: string;
  close(): void;
}

export function defaultTpmAddress(): string {
  return existsSync(DEFAULT_TPM_DEVICE) ? DEFAULT_TPM_DEVICE : DEFAULT_TPM_TCP;
}

type Device = InstanceType<typeof TpmLinuxDevice> | InstanceType<typeof TpmTcpDevice>;

function deviceFor(address: string): Device {
  if (address.startsWith('/')) {
    try {
      return new TpmLinuxDevice(openSync(address, 'rs+'));
    } catch (err) {
      throw new Error(`cannot open the TPM at ${address}: ${(err as Error).message}`, { cause: err });
    }
  }
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(address);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535)
    throw new Error(`--tpm must be a device path (/dev/tpmrm0) or HOST:PORT (127.0.0.1:2323), not "${address}"`);
  // `linuxTrm` framing: TPM commands with the simulator's SEND_COMMAND header and no platform handshake, which is
  // what swtpm and the tpm2-abrmd simulator interface speak (the Microsoft simulator's handshake they do not).
  return new TpmTcpDevice(match[1].replace(/^\[|\]$/g, ''), port, true);
}

/** Whether something listens at a TCP TPM's address: the TSS's own socket has no error path, it would hang. */
function probe(host: string, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port }, () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => reject(new Error(`no TPM answers at ${address}: ${err.message}`)));
  });
}

/**
 * A TPM ready for the official client, which connects it itself (connecting twice would open a second socket).
 * Rejects with where and why when nothing is there.
 */
export async function openTpm(address: string = defaultTpmAddress()): Promise<TpmConnection> {
  const device = deviceFor(address);
  if (device instanceof TpmTcpDevice) {
    const { host, port } = device as unknown as { host: string; port: number };
    await probe(host, port, address);
  }
  const tpm = new Tpm(false);
  (tpm as unknown as { device: Device }).device = device;
  return { tpm, address, close: () => tpm.close() };
}
