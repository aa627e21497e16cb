// Reading a proof file as the hostile input it is: bounded in size before it is parsed, and in
// nesting before anything walks it (the canonical encoder recurses, and a record's free-form
// `meta` could otherwise nest as deep as the bytes allow). docs/spec/proofs.md, "Verifying a proof".

/** A proof is a few kilobytes; nothing honest comes near this. */
export const MAX_PROOF_BYTES = 1 << 20;
/** proof > record > meta > ...: a record's own fields leave plenty of room below this. */
export const MAX_PROOF_DEPTH = 32;

export type ProofInput = { ok: true; proof: unknown } | { ok: false; problem: string };

/** The deepest nesting of objects and arrays in JSON text, read without recursion; stops counting past `limit`. */
export function jsonDepth(text: string, limit = MAX_PROOF_DEPTH): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > deepest) deepest = depth;
      if (deepest > limit) return deepest;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return deepest;
}

/** The proof in `bytes`, or why they are not one: too large, not UTF-8 JSON, nested too deep. */
export function parseProof(bytes: Buffer): ProofInput {
  if (bytes.length > MAX_PROOF_BYTES) return { ok: false, problem: `is larger than ${MAX_PROOF_BYTES} bytes, which no proof is` };
  const text = bytes.toString('utf8');
  if (jsonDepth(text) > MAX_PROOF_DEPTH) return { ok: false, problem: `nests deeper than ${MAX_PROOF_DEPTH} levels, which no proof does` };
  try {
    return { ok: true, proof: JSON.parse(text) };
  } catch {
    return { ok: false, problem: 'is not JSON' };
  }
}
