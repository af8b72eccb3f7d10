/**
 * The few helpers the contract schemas are written with. Every object is closed (`additionalProperties: false`):
 * a field the published contract does not have is a difference to fix or to state, not something to let through.
 */
import Ajv, { type ValidateFunction } from 'ajv';

export type Schema = Record<string, unknown>;

export const ref = (name: string): Schema => ({ $ref: `#/definitions/${name}` });
export const str: Schema = { type: 'string' };
export const int: Schema = { type: 'integer' };
export const bool: Schema = { type: 'boolean' };
export const dateTime: Schema = { type: 'string', format: 'date-time' };
export const oneOf = (...values: string[]): Schema => ({ type: 'string', enum: values });
export const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
/** A free-form JSON object (twin collections, payloads). */
export const anyObject: Schema = { type: 'object' };

export function obj(properties: Record<string, Schema>, required: string[] = []): Schema {
  return { type: 'object', properties, required, additionalProperties: false };
}

/** RFC 3339 date-time, as swagger's `format: date-time` means it. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** One validator per definition of a contract. */
export function compileDefinitions(definitions: Record<string, Schema>): (name: string) => ValidateFunction {
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addFormat('date-time', DATE_TIME);
  ajv.addSchema({ $id: 'contract', definitions });
  const compiled = new Map<string, ValidateFunction>();
  return (name) => {
    if (!(name in definitions) && !name.startsWith('[')) throw new Error(`the contract has no definition ${name}`);
    let fn = compiled.get(name);
    if (!fn) {
      const schema = name.startsWith('[') ? arrayOf(ref(name.slice(1, -1))) : ref(name);
      fn = ajv.compile({ $id: `contract-${name}`, ...schema, definitions });
      compiled.set(name, fn);
    }
    return fn;
  };
}
