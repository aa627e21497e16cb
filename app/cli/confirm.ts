// Ask before doing something that cannot be undone. The question goes to stderr (stdout may be a
// JSON contract); the answer is one line from stdin, so that a script can pipe "yes" in. No answer
// (stdin closed) is a no.
import { createInterface } from 'node:readline';

export async function confirm(question: string, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<boolean> {
  const rl = createInterface({ input, output, terminal: false });
  output.write(`${question} Type yes to continue: `);
  try {
    const answer = await new Promise<string | null>((resolve) => {
      rl.once('line', (line) => resolve(line));
      rl.once('close', () => resolve(null));
    });
    if (answer === null) output.write('\n');
    return answer !== null && /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
