/** Rotating the webhook key across enrollments and groups. */
export * from './rotate';
