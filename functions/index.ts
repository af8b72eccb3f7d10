/** The entry point the Functions host loads (`main` in package.json): importing a trigger file registers it. */
import 'reflect-metadata';
import './health';
import './allocate';
import './incidents';

export { registeredFunctions } from './registry';
