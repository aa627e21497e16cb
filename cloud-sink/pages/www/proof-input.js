// Reading a proof, dropped in as a file or answered by the sink, as the hostile input it is
// (protocol/proof-input.ts, whose bounds and messages these are): bounded in size before it is
// parsed, in nesting before anything walks it, and with one meaning only.
import { boundedBody } from './bounded-body.js';

/** A proof is a few kilobytes; nothing honest comes near these. */
export const MAX_PROOF_BYTES = 1 << 20;
export const MAX_PROOF_DEPTH = 32;

const NUMBER_CHAR = /[0-9eE.+-]/;

/**
 * Why JSON `text` could be read as something else than JSON.parse reads it, or null (as
 * protocol/proof-input.ts): nested deeper than `limit`; a member named twice in one object; a
 * number not written as JCS writes the number it parses to. One pass, without recursion.
 */
function jsonTextProblem(text, limit) {
  const open = [];
  let expectName = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const names = open.at(-1);
      if (expectName && names) {
        let name;
        try {
          name = JSON.parse(text.slice(i, end + 1));
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
      if (open.length > limit) return `nests deeper than ${limit} levels, which no proof does`;
      expectName = c === '{';
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectName = open.at(-1) != null;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let end = i + 1;
      while (end < text.length && NUMBER_CHAR.test(text[end])) end++;
      const written = text.slice(i, end);
      const parsed = Number(written);
      if (!Number.isNaN(parsed) && String(parsed) !== written) {
        return `writes the number ${written}, which is not how the number it parses to is written (${String(parsed)}): JSON parsers may read another number than the one signed`;
      }
      i = end - 1;
    }
  }
  return null;
}

/** The proof in `bytes` (a Uint8Array), or why they are not one, bounded before they are parsed. */
export function parseProofBytes(bytes) {
  if (bytes.length > MAX_PROOF_BYTES) return { ok: false, problem: `is larger than ${MAX_PROOF_BYTES} bytes, which no proof is` };
  let text;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return { ok: false, problem: 'is not UTF-8 text, which every proof is' };
  }
  const problem = jsonTextProblem(text, MAX_PROOF_DEPTH);
  if (problem) return { ok: false, problem };
  try {
    return { ok: true, proof: JSON.parse(text) };
  } catch {
    return { ok: false, problem: 'is not JSON' };
  }
}

/**
 * A proof as the sink answered it (a fetch Response), read as a file is: no further than the
 * bound, and with one meaning only. The sink is a messenger like any other, not trusted with this
 * tab's memory, nor to hand over JSON the checks would stop on rather than refuse.
 */
export async function proofFromResponse(res) {
  const bytes = await boundedBody(res, MAX_PROOF_BYTES);
  return bytes === null ? { ok: false, problem: `is larger than ${MAX_PROOF_BYTES} bytes, which no proof is` } : parseProofBytes(bytes);
}
