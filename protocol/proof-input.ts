// Reading a proof file as the hostile input it is: bounded in size before it is parsed, and in
// nesting before anything walks it (the canonical encoder recurses, and a record's free-form
// `meta` could otherwise nest as deep as the bytes allow). And read with one meaning only: a file
// that another JSON parser, or an auditor reading the text, would take for another proof than the
// one this verifier checks is refused (docs/spec/proofs.md, "Verifying a proof").
import { jsonDepth } from './json-depth.ts';

/** A proof is a few kilobytes; nothing honest comes near this. */
export const MAX_PROOF_BYTES = 1 << 20;
/** proof > record > meta > ...: a record's own fields leave plenty of room below this. */
export const MAX_PROOF_DEPTH = 32;

export type ProofInput = { ok: true; proof: unknown } | { ok: false; problem: string };

const NUMBER_CHAR = /[0-9eE.+-]/;

/**
 * Why JSON `text` could be read as something else than JSON.parse reads it, or null: nested
 * deeper than `limit`; an object that names a member twice (parsers differ on which one counts);
 * a number not written as JSON canonicalization (RFC 8785, what the device signs and the sink
 * serves) writes the number it parses to: 2^53 + 1 parses to 2^53, and the text would show a
 * value the device never signed; 1e999 parses to Infinity, which nothing can sign. One pass,
 * without recursion; text that is not JSON is left to the parser.
 */
export function jsonTextProblem(text: string, limit = MAX_PROOF_DEPTH): string | null {
  // The nesting first, on its own: the pass below keeps a set of names for each open object.
  if (jsonDepth(text, limit) > limit) return `nests deeper than ${limit} levels, which no proof does`;
  // One entry per open object (the member names seen so far) or array (null).
  const open: (Set<string> | null)[] = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const names = open.at(-1);
      if (expectName && names) {
        let name: string;
        try {
          name = JSON.parse(text.slice(i, end + 1)) as string;
        } catch {
          return null;
        }
        if (names.has(name)) return `writes the member ${JSON.stringify(name)} twice in one object, which no proof does: JSON parsers differ on which one counts`;
        names.add(name);
      }
      expectName = false;
      i = end;
    } else if (c === '{' || c === '[') {
      open.push(c === '{' ? new Set() : null);
      expectName = c === '{';
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectName = open.at(-1) != null;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let end = i + 1;
      while (end < text.length && NUMBER_CHAR.test(text[end]!)) end++;
      const written = text.slice(i, end);
      const parsed = Number(written);
      // NaN is no number at all: the parser refuses it. Infinity (1e999) is one no encoder writes.
      if (!Number.isNaN(parsed) && String(parsed) !== written) {
        return `writes the number ${written}, which is not how the number it parses to is written (${String(parsed)}): JSON parsers may read another number than the one signed`;
      }
      i = end - 1;
    }
  }
  return null;
}

/** The proof in `bytes`, or why they are not one: too large, not UTF-8, nested too deep, ambiguous, not JSON. */
export function parseProof(bytes: Buffer): ProofInput {
  if (bytes.length > MAX_PROOF_BYTES) return { ok: false, problem: `is larger than ${MAX_PROOF_BYTES} bytes, which no proof is` };
  let text: string;
  try {
    // Not Buffer.toString: it would replace a stray byte with U+FFFD, the very character a signed record may hold.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { ok: false, problem: 'is not UTF-8 text, which every proof is' };
  }
  const problem = jsonTextProblem(text);
  if (problem) return { ok: false, problem };
  try {
    return { ok: true, proof: JSON.parse(text) };
  } catch {
    return { ok: false, problem: 'is not JSON' };
  }
}
