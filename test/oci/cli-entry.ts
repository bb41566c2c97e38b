// Test-only entry point: a commander program with just the image and login commands (the real entry point is
// src/cli/main.ts). Used by the OCI tests to run the commands as a child process.
import { Command } from 'commander';
import { registerImageCommands } from '../../src/cli/image.js';
import { registerLoginCommands } from '../../src/cli/login.js';

const program = new Command('ig');
program.exitOverride();
program.configureOutput({ writeErr: (s) => process.stderr.write(s.startsWith('error:') ? `Error: ${s.slice(7)}` : s) });
registerImageCommands(program);
registerLoginCommands(program);
try {
  await program.parseAsync(process.argv);
} catch (err) {
  const e = err as { code?: string; exitCode?: number };
  if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') process.exit(0);
  process.exitCode = e.exitCode ?? 1;
}
