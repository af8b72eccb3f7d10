/**
 * The fault proxies the local stack puts in front of the embedded Cosmos server and Azurite when faults are on,
 * and the connection strings that lead through them (the stack's own setup keeps the direct ones).
 */
import { sendCosmosError, sendStorageError } from './answers';
import type { FaultInjector } from './injector';
import { cosmosCall, storageCall } from './operations';
import { type RunningFaultProxy, startFaultProxy } from './proxy';

export interface ProxiedService {
  /** The connection string through the proxy (or proxies). */
  connectionString: string;
  close(): Promise<void>;
}

/** Cosmos: TLS with the server's own certificate, forwarded over TLS trusting the local CA. */
export async function proxyCosmos(
  injector: FaultInjector,
  cosmos: { endpoint: string; connectionString: string },
  tls: { cert: string; key: string; ca: string },
): Promise<ProxiedService> {
  const proxy = await startFaultProxy({
    service: 'cosmos',
    injector,
    upstream: { port: Number(new URL(cosmos.endpoint).port), ca: tls.ca },
    tls: { cert: tls.cert, key: tls.key },
    describe: cosmosCall,
    answer: sendCosmosError,
  });
  return {
    connectionString: cosmos.connectionString.replace(cosmos.endpoint, `https://127.0.0.1:${proxy.port}/`),
    close: proxy.close,
  };
}

/** Azurite: one proxy for the queue endpoint, one for the blob endpoint (plain HTTP, as Azurite serves). */
export async function proxyStorage(injector: FaultInjector, connectionString: string): Promise<ProxiedService> {
  const proxies: RunningFaultProxy[] = [];
  let proxied = connectionString;
  for (const api of ['queue', 'blob'] as const) {
    const key = api === 'queue' ? 'QueueEndpoint' : 'BlobEndpoint';
    const endpoint = new RegExp(`${key}=([^;]+)`).exec(connectionString)?.[1];
    if (!endpoint) continue;
    const url = new URL(endpoint);
    const proxy = await startFaultProxy({
      service: 'storage',
      injector,
      upstream: { port: Number(url.port) },
      describe: (req) => storageCall(req, api),
      answer: sendStorageError,
    });
    proxies.push(proxy);
    proxied = proxied.replace(`${key}=${endpoint}`, `${key}=http://127.0.0.1:${proxy.port}${url.pathname}`);
  }
  return {
    connectionString: proxied,
    close: async () => {
      await Promise.all(proxies.map((p) => p.close()));
    },
  };
}
