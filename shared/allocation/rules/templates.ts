/**
 * Initial-twin and payload templates: `{{path}}` in a string is replaced from the request's context. A string that is
 * only a placeholder keeps the value's type, and is dropped when the value is absent (no empty tags).
 */
import type { TwinState } from '../../dps-types';

export type TemplateContext = Record<string, unknown>;

const WHOLE = /^\{\{\s*([\w.]+)\s*\}\}$/;
const ANY = /\{\{\s*([\w.]+)\s*\}\}/g;

function lookup(context: TemplateContext, path: string): unknown {
  let node: unknown = context;
  for (const part of path.split('.'))
    node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined;
  return node;
}

export function render(template: unknown, context: TemplateContext): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    if (whole) return lookup(context, whole[1]);
    return template.replace(ANY, (_m, path: string) => {
      const v = lookup(context, path);
      return v === undefined || v === null ? '' : String(v);
    });
  }
  if (Array.isArray(template)) return template.map((t) => render(t, context)).filter((v) => v !== undefined);
  if (template !== null && typeof template === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(template)) {
      const r = render(v, context);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return template;
}

const isPlain = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isPlain(base) || !isPlain(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** The rule's twin over the enrollment's own: tags and desired properties merged key by key, the rule winning. */
export function mergeTwin(
  enrollmentTwin: TwinState | undefined,
  ruleTwin: TwinState | undefined,
): TwinState | undefined {
  if (!ruleTwin) return undefined; // DPS then applies the enrollment's initial twin itself
  return deepMerge(enrollmentTwin ?? {}, ruleTwin) as TwinState;
}
