// The Move module's ABI, kept in move/anchor.abi.json beside the source (no Move compiler is
// needed to build the sink). The transaction builder takes the entry function's parameter types
// from it, and the simulator checks submitted arguments against the same file.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseTypeTag, type EntryFunctionABI, type MoveFunction, type MoveModule, type ViewFunctionABI } from '@aptos-labs/ts-sdk';

export const ABI_FILE = fileURLToPath(new URL('../../move/anchor.abi.json', import.meta.url));
export const MODULE_NAME = 'anchor';
export const RECORD_ROOT = 'record_root';
export const ANCHORED_AT = 'anchored_at';

export function loadAnchorAbi(file = ABI_FILE): MoveModule {
  return JSON.parse(readFileSync(file, 'utf8')) as MoveModule;
}

export function moveFunction(abi: MoveModule, name: string): MoveFunction {
  const f = abi.exposed_functions.find((x) => x.name === name);
  if (!f) throw new Error(`the anchor ABI has no function ${name}`);
  return f;
}

/** The parameters a transaction passes: the leading &signer is supplied by the chain. */
export function argumentTypes(f: MoveFunction): string[] {
  return f.params.filter((p) => p !== 'signer' && p !== '&signer');
}

export function entryFunctionAbi(abi: MoveModule, name = RECORD_ROOT): EntryFunctionABI {
  const f = moveFunction(abi, name);
  if (!f.is_entry) throw new Error(`${name} is not an entry function in the anchor ABI`);
  return {
    typeParameters: f.generic_type_params,
    parameters: argumentTypes(f).map((p) => parseTypeTag(p)),
    signers: f.params.length - argumentTypes(f).length,
  };
}

export function viewFunctionAbi(abi: MoveModule, name = ANCHORED_AT): ViewFunctionABI {
  const f = moveFunction(abi, name);
  if (!f.is_view) throw new Error(`${name} is not a view function in the anchor ABI`);
  return { typeParameters: f.generic_type_params, parameters: f.params.map((p) => parseTypeTag(p)), returnTypes: f.return.map((r) => parseTypeTag(r)) };
}
