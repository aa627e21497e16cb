// Reading a POST /v1/view request as a node does, in either of its two encodings: the BCS
// EntryFunction (what @aptos-labs/ts-sdk sends) or JSON {"function", "type_arguments",
// "arguments"}. Every argument must have the type the ABI gives it, exactly.
import type { MoveFunction } from '@aptos-labs/ts-sdk';
import { normalizeAddress } from './address.ts';
import type { MoveArgument } from './anchor-module.ts';
import { ApiError } from './api-error.ts';
import { BcsError, BcsReader, decodeMoveArgument, readEntryFunction } from './bcs-reader.ts';

export interface ViewCall {
  moduleAddress: string;
  moduleName: string;
  functionName: string;
  args: MoveArgument[];
}

/** Finds the view function a request names, or throws the ApiError a node answers. */
export type ViewResolver = (moduleAddress: string, moduleName: string, functionName: string) => MoveFunction;

const UINT_BITS: Record<string, number> = { u8: 8, u16: 16, u32: 32, u64: 64, u128: 128, u256: 256 };

export function parseViewRequest(contentType: string, body: Buffer, resolve: ViewResolver): ViewCall {
  if (contentType === 'application/x.aptos.view_function+bcs') return parseBcs(body, resolve);
  if (contentType === 'application/json') return parseJson(body, resolve);
  throw new ApiError(415, `content type ${contentType} is not supported`, 'unsupported_media_type');
}

function parseBcs(body: Buffer, resolve: ViewResolver): ViewCall {
  try {
    const r = new BcsReader(body);
    const call = readEntryFunction(r);
    r.end('the view function');
    const fn = resolve(call.moduleAddress, call.moduleName, call.functionName);
    if (call.args.length !== fn.params.length) throw new ApiError(400, `${call.functionName} takes ${fn.params.length} arguments, got ${call.args.length}`, 'invalid_input', 1096);
    const args = call.args.map((a, i) => decodeMoveArgument(fn.params[i]!, a));
    return { moduleAddress: normalizeAddress(call.moduleAddress), moduleName: call.moduleName, functionName: call.functionName, args };
  } catch (err) {
    if (err instanceof BcsError) throw new ApiError(400, `invalid BCS view function: ${err.message}`, 'invalid_input');
    throw err;
  }
}

function parseJson(body: Buffer, resolve: ViewResolver): ViewCall {
  let j: unknown;
  try {
    j = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, 'body is not JSON', 'invalid_input');
  }
  const req = (typeof j === 'object' && j !== null ? j : {}) as { function?: unknown; type_arguments?: unknown; arguments?: unknown };
  const parts = typeof req.function === 'string' ? req.function.split('::') : [];
  if (parts.length !== 3 || !/^0x[0-9a-fA-F]{1,64}$/.test(parts[0]!)) throw new ApiError(400, `function must be <address>::<module>::<name>, got ${JSON.stringify(req.function)}`, 'invalid_input');
  if (req.type_arguments !== undefined && !(Array.isArray(req.type_arguments) && req.type_arguments.length === 0)) {
    throw new ApiError(400, 'the anchor module\'s view functions take no type arguments', 'invalid_input');
  }
  const [address, moduleName, functionName] = parts as [string, string, string];
  const fn = resolve(address, moduleName, functionName);
  if (!Array.isArray(req.arguments) || req.arguments.length !== fn.params.length) throw new ApiError(400, `${functionName} takes ${fn.params.length} arguments`, 'invalid_input');
  const args = (req.arguments as unknown[]).map((v, i) => jsonArgument(fn.params[i]!, v, i));
  return { moduleAddress: normalizeAddress(address), moduleName, functionName, args };
}

/** One JSON argument, checked against its Move type as a node parses it. */
function jsonArgument(type: string, v: unknown, i: number): MoveArgument {
  const bad = (want: string): never => {
    throw new ApiError(400, `argument ${i} must be ${want} for ${type}, got ${JSON.stringify(v)}`, 'invalid_input');
  };
  if (type === 'bool') return typeof v === 'boolean' ? v : bad('true or false');
  if (type in UINT_BITS) {
    const bits = UINT_BITS[type]!;
    // a node takes u64 and wider only as strings: a JSON number cannot carry them exactly
    const asText = typeof v === 'string' && /^(0|[1-9][0-9]*)$/.test(v) ? v : bits <= 32 && Number.isSafeInteger(v) && (v as number) >= 0 ? String(v) : null;
    if (asText === null || BigInt(asText) >= 2n ** BigInt(bits)) bad(bits <= 32 ? `an integer below 2^${bits}` : `a decimal string below 2^${bits}`);
    return asText!;
  }
  if (type === 'address') return typeof v === 'string' && /^0x[0-9a-fA-F]{1,64}$/.test(v) ? normalizeAddress(v) : bad('0x and 1 to 64 hex digits');
  if (type === 'vector<u8>') return typeof v === 'string' && /^0x(?:[0-9a-fA-F]{2})*$/.test(v) ? v.toLowerCase() : bad('0x and hex byte pairs');
  if (type === '0x1::string::String') return typeof v === 'string' ? v : bad('a string');
  throw new ApiError(400, `argument type ${type} is not supported by this simulator`, 'invalid_input');
}
