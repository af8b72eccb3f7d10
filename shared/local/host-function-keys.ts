/**
 * WebhookKeysPort on the Functions host's own key API (`/admin/functions/{name}/keys`, master key): what the local
 * host serves, as Core Tools does. In Azure, Resource Manager is the way (shared/azure/function-keys.ts).
 */
import type { SecretsPort, WebhookKeysPort } from '../ports';

export class HostFunctionKeys implements WebhookKeysPort {
  constructor(
    private readonly baseUrl: string,
    private readonly masterKey: string,
    private readonly functionName: string,
  ) {}

  private async call(method: string, keyName = '', body?: unknown): Promise<Response> {
    const res = await fetch(
      `${this.baseUrl}/admin/functions/${this.functionName}/keys${keyName ? `/${encodeURIComponent(keyName)}` : ''}`,
      {
        method,
        headers: { 'x-functions-key': this.masterKey, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
    );
    if (!res.ok && res.status !== 404) throw new Error(`${method} key ${keyName}: the host answered ${res.status}`);
    return res;
  }

  async list(): Promise<Array<{ name: string; value: string }>> {
    return ((await (await this.call('GET')).json()) as { keys: Array<{ name: string; value: string }> }).keys;
  }

  async put(name: string, value?: string): Promise<string> {
    return ((await (await this.call('PUT', name, { name, value })).json()) as { value: string }).value;
  }

  async remove(name: string): Promise<void> {
    await this.call('DELETE', name);
  }
}

/** Secrets of the local stack, in a JSON file beside its data (Key Vault's stand-in). */
export class FileSecrets implements SecretsPort {
  constructor(private readonly file: string) {}

  async set(name: string, value: string): Promise<void> {
    const { readFile, writeFile } = await import('node:fs/promises');
    const all = JSON.parse(await readFile(this.file, 'utf8').catch(() => '{}')) as Record<string, string>;
    await writeFile(this.file, `${JSON.stringify({ ...all, [name]: value }, null, 2)}\n`, { mode: 0o600 });
  }
}
