/**
 * Azurite (queues and blobs) as child processes on loopback: `require("azurite")` fails in-process, and the
 * newest Storage SDKs send API versions Azurite refuses without `--skipApiVersionCheck`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';

/** Azurite's well-known development account (public, documented; not a secret). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningAzurite {
  connectionString: string;
  /** The processes of the queue and blob services (a bench reads their CPU time). */
  pids: { queue?: number; blob?: number };
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net
      .createServer()
      .listen(0, '127.0.0.1', () => {
        const { port } = s.address() as net.AddressInfo;
        s.close(() => resolve(port));
      })
      .once('error', reject);
  });
}

// Generous: a loaded machine (two test workers and more on two cores) has taken more than 15 s to start Azurite. A
// child that dies is reported at once, so the wait only bounds a child that hangs.
async function waitForPort(port: number, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`azurite exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net
        .connect(port, '127.0.0.1', () => {
          socket.end();
          resolve(true);
        })
        .once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`azurite did not listen on ${port} within ${timeoutMs} ms`);
}

export async function startAzurite(options: {
  dataDir: string;
  queuePort?: number;
  blobPort?: number;
  persist: boolean;
}): Promise<RunningAzurite> {
  const queuePort = options.queuePort || (await freePort());
  const blobPort = options.blobPort || (await freePort());
  const location = join(options.dataDir, 'azurite');
  if (options.persist) mkdirSync(location, { recursive: true });
  const bin = (name: string) => require.resolve(`azurite/dist/src/${name}/main.js`);
  const common = [
    '--skipApiVersionCheck',
    '--disableTelemetry',
    '--loose',
    ...(options.persist ? ['--location', location] : ['--inMemoryPersistence']),
  ];
  const children = [
    spawn(process.execPath, [bin('queue'), '--queueHost', '127.0.0.1', '--queuePort', String(queuePort), ...common], {
      stdio: 'ignore',
    }),
    spawn(process.execPath, [bin('blob'), '--blobHost', '127.0.0.1', '--blobPort', String(blobPort), ...common], {
      stdio: 'ignore',
    }),
  ];
  try {
    await Promise.all([waitForPort(queuePort, children[0]), waitForPort(blobPort, children[1])]);
  } catch (err) {
    children.forEach((c) => c.kill('SIGKILL'));
    throw err;
  }
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_ACCOUNT_KEY};QueueEndpoint=http://127.0.0.1:${queuePort}/${DEV_ACCOUNT};BlobEndpoint=http://127.0.0.1:${blobPort}/${DEV_ACCOUNT};`,
    pids: { queue: children[0].pid, blob: children[1].pid },
    close: async () => {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null) return resolve();
              c.once('exit', () => resolve());
              c.kill('SIGTERM');
            }),
        ),
      );
    },
  };
}
