import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, Options, ValidateFunction } from 'ajv';
import { OcipullError } from '../errors/errors.js';
import type { ConfigFile, PresetFile } from './types.js';

/** The shipped schemas (also published for editors: "$schema": "node_modules/ocipull/schema/config.schema.json"). */
export const SCHEMA_DIR = fileURLToPath(new URL('../../../schema/', import.meta.url));

type AjvInstance = {
  addSchema(schema: object, key: string): void;
  getSchema(key: string): ValidateFunction | undefined;
  compile(schema: object): ValidateFunction;
};
let compiled:
  | { config: ValidateFunction; preset: ValidateFunction; configSchema: Schema; presetSchema: Schema }
  | undefined;

type Schema = { properties?: Record<string, Schema>; definitions?: Record<string, Schema>; $ref?: string };

/**
 * ajv, imported and compiled on the first file that needs checking: a run with no config file
 * and only built-in presets never loads it (~0.1 s of every start).
 */
async function schemas() {
  if (compiled) return compiled;
  const AjvModule = await import('ajv');
  // ajv is CommonJS: its class is the default export's `default` under Node's ESM interop.
  const module = AjvModule.default as unknown as { default?: unknown };
  const Ajv = (module.default ?? module) as new (options: Options) => AjvInstance;
  const configSchema = JSON.parse(readFileSync(`${SCHEMA_DIR}config.schema.json`, 'utf8')) as Schema;
  const presetSchema = JSON.parse(readFileSync(`${SCHEMA_DIR}preset.schema.json`, 'utf8')) as Schema;
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addSchema(configSchema, 'config.schema.json');
  compiled = {
    config: ajv.getSchema('config.schema.json')!,
    preset: ajv.compile(presetSchema),
    configSchema,
    presetSchema,
  };
  return compiled;
}

// One "did you mean" for the whole tool: core/suggest.ts.
import { didYouMean } from '../suggest.js';

export { didYouMean, distance } from '../suggest.js';

function resolveRef(root: Schema, node: Schema | undefined): Schema | undefined {
  if (!node?.$ref) return node;
  const path = node.$ref.replace(/^[^#]*#\//, '').split('/');
  let current: unknown = root;
  for (const part of path) current = (current as Record<string, unknown>)?.[part];
  return current as Schema | undefined;
}

/** The allowed keys at a JSON pointer of the schema (for additionalProperties errors). */
function allowedKeys(root: Schema, pointer: string): string[] {
  let node: Schema | undefined = root;
  for (const part of pointer.split('/').filter(Boolean)) {
    node = resolveRef(root, resolveRef(root, node)?.properties?.[part]);
  }
  return Object.keys(resolveRef(root, node)?.properties ?? {}).filter((k) => k !== '$schema');
}

function describe(error: ErrorObject, root: Schema): { path: string; message: string; hint?: string } {
  const path = error.instancePath ? error.instancePath.slice(1).replaceAll('/', '.') : '(top level)';
  if (error.keyword === 'additionalProperties') {
    const key = String((error.params as { additionalProperty: string }).additionalProperty);
    const allowed = allowedKeys(root, error.instancePath);
    const guess = didYouMean(key, allowed);
    const at = error.instancePath ? `${path}.${key}` : key;
    return {
      path: at,
      message: `unknown key "${key}"`,
      hint: `${guess ? `did you mean "${guess}"? ` : ''}accepted keys here: ${allowed.join(', ')}`,
    };
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    return {
      path,
      message: 'has a value that is not accepted',
      hint: `accepted: ${allowed.map((v) => JSON.stringify(v)).join(', ')}`,
    };
  }
  if (error.keyword === 'type') {
    return { path, message: `must be ${(error.params as { type: string }).type}` };
  }
  return { path, message: error.message ?? error.keyword };
}

function check<T>(
  validate: ValidateFunction,
  root: Schema,
  value: unknown,
  file: string,
  code: 'CONFIG_INVALID' | 'PRESET_INVALID',
): T {
  if (validate(value)) return value as T;
  // oneOf/anyOf produce noise: prefer the most specific errors.
  const errors = (validate.errors ?? []).filter((e) => e.keyword !== 'oneOf' && e.keyword !== 'anyOf');
  const issues = (errors.length ? errors : (validate.errors ?? [])).map((e) => describe(e, root));
  const unique = [...new Map(issues.map((i) => [`${i.path}:${i.message}`, i])).values()];
  const first = unique[0]!;
  const lines = unique.map((i) => `  ${i.path}: ${i.message}${i.hint ? ` (${i.hint})` : ''}`);
  throw new OcipullError(
    code,
    `${file}: invalid ${code === 'CONFIG_INVALID' ? 'configuration' : 'preset'}\n${lines.join('\n')}`,
    {
      hint: unique.length === 1 ? undefined : `${unique.length} problems; the first: ${first.path}`,
      data: { file, issues: unique },
    },
  );
}

export async function validateConfig(value: unknown, file: string): Promise<ConfigFile> {
  const s = await schemas();
  return check<ConfigFile>(s.config, s.configSchema, value, file, 'CONFIG_INVALID');
}

export async function validatePreset(value: unknown, file: string): Promise<PresetFile> {
  const s = await schemas();
  return check<PresetFile>(s.preset, s.presetSchema, value, file, 'PRESET_INVALID');
}

/**
 * A command-line flag that sets a config key (`--progress` for `progress`): checked against the
 * config schema, so it accepts exactly what the file accepts and fails with the same code.
 */
export async function validateFlag(key: keyof ConfigFile, value: unknown, flag: string): Promise<void> {
  // A value the key's enum lists is accepted without ajv (compiling the schema is ~0.1 s of a start).
  const root = JSON.parse(readFileSync(`${SCHEMA_DIR}config.schema.json`, 'utf8')) as Schema;
  const node = resolveRef(root, root.properties?.[key]) as { enum?: unknown[] } | undefined;
  if (node?.enum?.includes(value)) return;
  const s = await schemas();
  try {
    check<ConfigFile>(s.config, s.configSchema, { [key]: value }, flag, 'CONFIG_INVALID');
  } catch (error) {
    const issues = ((error as OcipullError).data?.issues ?? []) as { message: string; hint?: string }[];
    const first = issues[0];
    throw new OcipullError(
      'CONFIG_INVALID',
      `${flag} ${JSON.stringify(value)}: ${first?.message ?? 'is not accepted'}${first?.hint ? ` (${first.hint})` : ''}`,
      { data: { flag, value, issues } },
    );
  }
}
