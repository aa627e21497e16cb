import { readFileSync } from 'node:fs';
import { parse, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError, describeZodError } from './errors.ts';

/** Read a YAML file and validate it against a zod schema; every failure is a one-line ConfigError. */
export function loadYamlConfig<S extends z.ZodType>(file: string, schema: S): z.output<S> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(code === 'ENOENT' ? `config file ${file} does not exist` : `cannot read config file ${file}: ${code ?? String(err)}`);
  }
  return parseYamlConfig(file, text, schema);
}

export function parseYamlConfig<S extends z.ZodType>(file: string, text: string, schema: S): z.output<S> {
  let raw: unknown;
  try {
    // Merge keys (`<<: *defaults`) are YAML 1.1, off by default in a 1.2 parser; operators share a
    // driver's settings that way, and without them the merged keys silently vanish.
    raw = parse(text, { merge: true });
  } catch (err) {
    // the parser's first line ends in a colon that introduced the excerpt below it, which is left out
    const msg = err instanceof YAMLParseError ? err.message.split('\n')[0]!.replace(/:\s*$/, '') : String(err);
    throw new ConfigError(`${file}: not valid YAML: ${msg}`);
  }
  const result = schema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(describeZodError(file, result.error));
  return result.data;
}
