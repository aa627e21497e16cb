// An operator's note on a meter event: who says what about the reset, rollover or wrap the report
// found at a given reading, signed with the operator's Ed25519 key over the note's canonical (JCS)
// bytes without `sig`. The sink keeps every note it is given, with the data; a note counts (lets
// the event's interval be credited) only when its signature verifies with the key the sink's
// config lists for that operator, and it names an event the report finds.
import { canonicalize } from '../../protocol/canonical.ts';
import { isHex, sha256 } from '../../protocol/hash.ts';
import { isValidName } from '../../protocol/records.ts';
import { signBytes, verifyBytes, type DeviceKey } from '../../protocol/signature.ts';

export const NOTE_EVENT_KINDS = ['reset', 'rollover', 'negative_wrap', 'jump', 'replacement', 'reconfigured'] as const;
export type NoteEventKind = (typeof NOTE_EVENT_KINDS)[number];

export interface OperatorNote {
  v: 1;
  kind: 'note';
  device: string;
  sensor: string;
  /** the event: the timestamp of the reading that shows it, and its kind, as the report names them */
  eventTs: number;
  eventKind: NoteEventKind;
  /** accept the event's interval for crediting (what may be credited depends on the kind), or only record the explanation */
  credit: boolean;
  text: string;
  operator: string;
  /** when the operator signed, ms */
  at: number;
  /** the operator's Ed25519 public key, hex */
  key: string;
  sig: string;
}

export type UnsignedNote = Omit<OperatorNote, 'v' | 'kind' | 'key' | 'sig'>;

export function signNote(n: UnsignedNote, key: DeviceKey): OperatorNote {
  const body = { ...n, v: 1 as const, kind: 'note' as const, key: key.public };
  return { ...body, sig: signBytes(key, Buffer.from(canonicalize(body))) };
}

/** The note's id: the hash of its canonical bytes, signature included. */
export function noteId(n: OperatorNote): string {
  return sha256(canonicalize(n)).toString('hex');
}

/** What is wrong with a note received from outside, or null. */
export function noteProblem(raw: unknown): string | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'a note is a JSON object';
  const n = raw as Record<string, unknown>;
  const allowed = ['v', 'kind', 'device', 'sensor', 'eventTs', 'eventKind', 'credit', 'text', 'operator', 'at', 'key', 'sig'];
  const extra = Object.keys(n).find((k) => !allowed.includes(k));
  if (extra) return `unknown field ${extra}`;
  if (n.v !== 1 || n.kind !== 'note') return 'v must be 1 and kind "note"';
  if (!isValidName(n.device) || !isValidName(n.sensor)) return 'device and sensor must be valid names';
  if (!Number.isSafeInteger(n.eventTs) || !Number.isSafeInteger(n.at)) return 'eventTs and at must be integer milliseconds';
  if (!NOTE_EVENT_KINDS.includes(n.eventKind as NoteEventKind)) return `eventKind must be one of ${NOTE_EVENT_KINDS.join(', ')}`;
  if (typeof n.credit !== 'boolean') return 'credit must be true or false';
  if (typeof n.text !== 'string' || n.text.trim().length === 0 || n.text.length > 4000) return 'text must be 1-4000 characters';
  if (!isValidName(n.operator)) return 'operator must be a valid name';
  if (!isHex(n.key, 32)) return 'key must be a 64-digit hex Ed25519 public key';
  if (!isHex(n.sig, 64)) return 'sig must be a 128-digit hex Ed25519 signature';
  return null;
}

export function noteSignatureValid(n: OperatorNote): boolean {
  const { sig, ...body } = n;
  return verifyBytes(n.key, Buffer.from(canonicalize(body)), sig);
}

/** Why a note does not count, or null when it does: signed, by an operator the sink lists with that key. */
export function noteStanding(n: OperatorNote, operators: readonly { id: string; key: string }[]): string | null {
  if (!noteSignatureValid(n)) return 'signature does not verify';
  const op = operators.find((o) => o.id === n.operator);
  if (!op) return `operator ${n.operator} is not listed in the sink's report.operators`;
  if (op.key !== n.key) return `signed with a key that is not operator ${n.operator}'s`;
  return null;
}
