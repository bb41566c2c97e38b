/**
 * Minimal `ig` entry point for the list-containers tests: a commander program with only the
 * list-containers command registered (the real bin/ig registers it among the others).
 *   node dist/test/containers/ig-entry.js list-containers -o json
 */
import { Command } from 'commander';
import { registerListContainers } from '../../src/cli/list-containers.js';

const program = new Command('ig');
registerListContainers(program);
await program.parseAsync(process.argv);
