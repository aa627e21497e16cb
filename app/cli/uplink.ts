import { HALT_FILE, clearHalt, readHalt } from '../../runtime/uplink/halt.ts';
import { parseFlags, printJson, UsageError, type Command } from '../../kernel/command.ts';
import { dataDirFrom } from './data-dir.ts';

export const command: Command = {
  summary: 'show or lift a stop of the uplink (after an equivocation or wrong_key refusal)',
  help: `usage: fieldproof uplink status --data-dir DIR [--json]
       fieldproof uplink resume --data-dir DIR [--json]

The uplink stops sending, and stays stopped across restarts, when the sink refuses a batch as an
equivocation (it holds another batch under that number, signed by this device's key) or as
wrong_key (the sink has another key registered for this device). Sending again cannot change
either; the journal keeps every record meanwhile (docs/durability.md).

status  prints why the uplink stopped ({"halted": null} when it did not).
resume  lifts the stop (${HALT_FILE} in the data dir); restart the daemon afterwards. At its start
        the uplink asks the sink for its head: a journal behind the sink's chain (restored from
        an older copy) starts a new epoch, which an admin accepts on the sink with
        fieldproof sink-devices accept-restart. Resume only once the cause is understood: a second
        device running with this device's key would equivocate again.`,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { 'data-dir': { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean' } }, true);
    const [sub, ...extra] = positionals;
    if (sub !== 'status' && sub !== 'resume') throw new UsageError('name a sub-verb: status or resume');
    if (extra.length) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const dir = dataDirFrom(values);
    const halted = readHalt(dir);
    if (sub === 'status') {
      if (values.json) printJson({ halted });
      else process.stdout.write(halted ? `stopped: ${halted.code} on batch ${halted.batch} of epoch ${halted.epoch}: ${halted.error}\n` : 'not stopped\n');
      return 0;
    }
    const lifted = clearHalt(dir);
    if (values.json) printJson({ resumed: lifted, was: halted });
    else process.stdout.write(lifted ? 'the uplink resumes at the next start of the daemon\n' : 'the uplink was not stopped\n');
    return 0;
  },
};
