// `ig login` / `ig logout`: docker-style registry credentials.

import type { Command } from 'commander';
import { cliAction, OciError, RegistryClient, saveCredentials, removeCredentials } from '../oci/index.js';
import { chooseAuthFile } from '../oci/auth.js';

function registryHost(server: string | undefined): string {
  const s = (server ?? 'docker.io').trim().replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!s) throw new OciError('empty registry name');
  return s === 'index.docker.io' || s === 'registry-1.docker.io' ? 'docker.io' : s;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description('Log in to a container registry')
    .argument('[server]', 'registry host[:port]', 'docker.io')
    .option('-u, --username <name>', 'user name')
    .option('-p, --password <password>', 'password (prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .option('--authfile <file>', 'credentials file to write (default /var/lib/ig/config.json for root; env REGISTRY_AUTH_FILE)')
    .option('--cert-dir <dir>', 'directory with the registry CA certificate(s) (*.crt)')
    .action(
      cliAction(async (server: string, o: { username?: string; password?: string; passwordStdin?: boolean; authfile?: string; certDir?: string }) => {
        const host = registryHost(server);
        if (!o.username) throw new OciError('--username is required');
        if (o.password !== undefined && o.passwordStdin) throw new OciError('--password and --password-stdin are mutually exclusive');
        const password = o.passwordStdin ? await readStdin() : o.password;
        if (!password) throw new OciError('a password is required (--password or --password-stdin)');
        const creds = { username: o.username, password };
        const client = new RegistryClient(host, { credentials: creds, certDir: o.certDir });
        await client.ping();
        const file = await saveCredentials(host, creds, o.authfile);
        process.stdout.write(`Login Succeeded! (credentials stored in ${file})\n`);
      }),
    );

  program
    .command('logout')
    .description('Log out from a container registry')
    .argument('[server]', 'registry host[:port]', 'docker.io')
    .option('--authfile <file>', 'credentials file (default /var/lib/ig/config.json for root; env REGISTRY_AUTH_FILE)')
    .action(
      cliAction(async (server: string, o: { authfile?: string }) => {
        const host = registryHost(server);
        const removed = await removeCredentials(host, o.authfile);
        if (!removed) throw new OciError(`not logged in to ${host} (no credentials in ${chooseAuthFile(o.authfile).file})`);
        process.stdout.write(`Removed login credentials for ${host}\n`);
      }),
    );
}
