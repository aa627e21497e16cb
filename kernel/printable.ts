// Text from hostile input, made safe to print on a terminal. Control characters (C0, newline
// included, DEL, C1) and bidirectional overrides are shown as their \uXXXX escapes: printed raw, a
// forger's escape sequence or newline could erase a line, or add one, and write words of its own.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every character a terminal would act on, rather than show, written as \uXXXX. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
