/**
 * The composition root (docs/architecture.md): builds every adapter once per process from the app settings and hands
 * the use cases their ports — the adapters (adapters.ts), the services and repositories (services.ts), what each
 * trigger hands its use case (use-cases.ts), and the process's allocation runtime and start-up (runtime.ts).
 */
export { deviceRegistryFor, dpsEnrollments, webhookKeyAdapters, type WebhookKeyTarget } from './adapters';
export * from './runtime';
export * from './services';
export * from './use-cases';
