// A decoder with a bug that never returns on one payload.
function decodeUplink(input) {
  if (input.bytes[0] === 0xff) { for (;;) {} }
  return { data: { level_pct: input.bytes[0] } };
}
