/**
 * Unknown keys in a manifest are accepted (so older and newer manifests load) but listed by
 * `doctor`, so a typo like `deletePredicat` is visible. We walk the zod schema beside the input.
 */
import { z } from 'zod';
import { formatPath } from '../util/zod-issues.js';

type AnySchema = z.core.$ZodType;

function unwrap(s: AnySchema): AnySchema {
  let cur = s;
  for (let i = 0; i < 10; i++) {
    const def = (cur as { _zod: { def: { type: string; innerType?: AnySchema; in?: AnySchema } } })._zod.def;
    if (
      (def.type === 'optional' ||
        def.type === 'default' ||
        def.type === 'nullable' ||
        def.type === 'prefault') &&
      def.innerType
    )
      cur = def.innerType;
    else if (def.type === 'pipe' && def.in) cur = def.in;
    else break;
  }
  return cur;
}

export function findUnknownKeys(schema: AnySchema, value: unknown, path: PropertyKey[] = []): string[] {
  const s = unwrap(schema);
  const def = (s as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
  const out: string[] = [];
  if (def.type === 'object' && value && typeof value === 'object' && !Array.isArray(value)) {
    const shape = def.shape as Record<string, AnySchema>;
    const catchall = def.catchall as AnySchema | undefined;
    const catchallType = catchall
      ? (catchall as { _zod: { def: { type: string } } })._zod.def.type
      : undefined;
    for (const [k, v] of Object.entries(value)) {
      const child = Object.hasOwn(shape, k) ? shape[k] : undefined;
      if (child) out.push(...findUnknownKeys(child, v, [...path, k]));
      else if (!catchall || catchallType === 'never') out.push(formatPath([...path, k]));
    }
  } else if (def.type === 'array' && Array.isArray(value)) {
    const element = def.element as AnySchema;
    value.forEach((v, i) => {
      out.push(...findUnknownKeys(element, v, [...path, i]));
    });
  } else if (def.type === 'union' && value && typeof value === 'object') {
    const options = def.options as AnySchema[];
    const disc = def.discriminator as string | undefined;
    const match = disc
      ? options.find((o) => {
          const sh = (unwrap(o) as { _zod: { def: { shape?: Record<string, AnySchema> } } })._zod.def.shape;
          const lit = sh?.[disc];
          return lit && z.safeParse(lit as z.ZodType, (value as Record<string, unknown>)[disc]).success;
        })
      : options.find((o) => z.safeParse(o as z.ZodType, value).success);
    if (match) out.push(...findUnknownKeys(match, value, path));
  } else if (def.type === 'record' && value && typeof value === 'object') {
    const valueType = def.valueType as AnySchema;
    for (const [k, v] of Object.entries(value)) out.push(...findUnknownKeys(valueType, v, [...path, k]));
  }
  return out;
}
