// `ig types IMAGE [-o FILE]`: the TypeScript declarations of the events runGadget yields for an image (src/lib's
// generator: the same fields and nesting as the library's event views). See docs/library.md.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from './errors.js';
import { Logger } from '../gadget/logger.js';

export function registerTypes(program: Command): void {
  program.command('types')
    .description('Write the TypeScript types of a gadget\'s events for the ig library (runGadget)')
    .argument('<image>', 'gadget image, e.g. trace_open')
    .option('-o, --output <file>', 'Write the declarations to this file (default: stdout)')
    .option('--fields <list>', 'Only these fields (as runGadget\'s fields option)')
    .option('--pull <policy>', 'Pull policy: always, missing or never', 'missing')
    .action(async (image: string, o: { output?: string; fields?: string; pull: string }, cmd: Command) => {
      if (!['always', 'missing', 'never'].includes(o.pull)) throw new UsageError(`invalid value "${o.pull}" for --pull: must be always, missing or never`);
      const verbose = Boolean(cmd.parent?.opts()['verbose']);
      const { gadgetTypes } = await import('../lib/types-gen.js');
      const fields = o.fields?.split(',').map((f) => f.trim()).filter(Boolean);
      let text: string;
      try {
        text = await gadgetTypes(image, { fields, pull: o.pull as 'always' | 'missing' | 'never', log: new Logger(verbose ? 'debug' : 'warn') });
      } catch (e) {
        if (/^fields: /.test((e as Error).message)) throw new UsageError(`--${(e as Error).message}`);
        throw e;
      }
      if (!o.output) { process.stdout.write(text); return; }
      try {
        writeFileSync(o.output, text);
      } catch (e) {
        throw new UsageError(`cannot write ${o.output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    });
}
