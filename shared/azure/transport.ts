/**
 * HTTPS transport options for the IoT SDKs and Cosmos. In Azure there are none: the SDKs' defaults are used.
 * On the local stack (`LOCAL_IOT_ENDPOINT`, `LOCAL_CA_FILE` set) every IoT host name is dialled at the local
 * simulator's loopback port while the real name stays in SNI and the Host header, and the local CA is trusted,
 * so the very same adapter code runs against the simulator.
 */
import { readFileSync } from 'node:fs';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';

import { type Env, setting } from '../settings';

export interface TransportOptions {
  agent: https.Agent;
  ca?: string;
}

class LoopbackAgent extends https.Agent {
  constructor(
    private readonly target: { host: string; port: number },
    private readonly ca: string,
  ) {
    super({ keepAlive: true, ca });
  }

  override createConnection(
    options: tls.ConnectionOptions,
    callback?: (err: Error | null, socket: Duplex) => void,
  ): Duplex {
    const servername = options.servername || (options.host as string | undefined);
    const socket = tls.connect({ ...options, host: this.target.host, port: this.target.port, servername, ca: this.ca });
    if (callback) socket.once('secureConnect', () => callback(null, socket));
    return socket;
  }
}

/** The local CA, when the local stack is configured; undefined in Azure. */
export function localCa(env: Env): string | undefined {
  const file = setting(env, 'localCaFile');
  return file ? readFileSync(file, 'utf8') : undefined;
}

/** Transport for the IoT SDKs: undefined in Azure (the SDK default), the loopback agent locally. */
export function iotTransport(env: Env): TransportOptions | undefined {
  const endpoint = setting(env, 'localIotEndpoint');
  if (!endpoint) return undefined;
  const ca = localCa(env);
  if (!ca)
    throw new Error('LOCAL_IOT_ENDPOINT is set but LOCAL_CA_FILE is not: the local simulator cannot be trusted.');
  const [host, port] = endpoint.split(':');
  return { agent: new LoopbackAgent({ host, port: Number(port) }, ca), ca };
}
