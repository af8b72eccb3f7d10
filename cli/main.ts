#!/usr/bin/env node
/** `dps-lifecycle` (package.json `bin`): see cli/program.ts for the commands. */
import { ApiError } from './client';
import { buildProgram } from './program';

buildProgram()
  .parseAsync()
  .catch((err: unknown) => {
    console.error(err instanceof ApiError ? err.message : ((err as Error)?.message ?? err));
    process.exitCode = 1;
  });
