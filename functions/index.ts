/** The entry point the Functions host loads (`main` in package.json): importing a trigger file registers it. */
import 'reflect-metadata';
import { app } from '@azure/functions';
// Uploads of hundreds of MB reach the import function as a stream, not a buffer.
app.setup({ enableHttpStream: true });
import './health';
import './allocate';
import './incidents';
import './imports';
import './certificates';

export { registeredFunctions } from './registry';
