/**
 * Docker credential helpers (https://github.com/docker/docker-credential-helpers): run
 * `docker-credential-<name> get`, write the server URL on stdin, read
 * `{"ServerURL","Username","Secret"}` on stdout. Username `<token>` means Secret is an identity token.
 */
import { spawn } from 'node:child_process';
import { OcipullError } from 'ocipull';
import type { Credential } from './credentials.js';

const HELPER_TIMEOUT_MS = 30_000;

export async function runCredentialHelper(
  name: string,
  serverUrl: string,
  env: NodeJS.ProcessEnv = process.env,
  /** A global `credsStore` that is not installed is skipped; a per-registry credHelper is required. */
  optional = false,
): Promise<Credential | undefined> {
  const program = `docker-credential-${name}`;
  const source = `credential helper ${program}`;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new OcipullError(
      'UNAUTHORIZED',
      `credential helper name ${JSON.stringify(name)} is not a plain program suffix`,
    );
  }
  const { code, stdout, stderr, missing } = await new Promise<{
    code: number | null;
    stdout: string;
    stderr: string;
    missing: boolean;
  }>((resolve) => {
    const child = spawn(program, ['get'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), HELPER_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ code: null, stdout: '', stderr: error.message, missing: error.code === 'ENOENT' });
    });
    child.on('close', (exit) => {
      clearTimeout(timer);
      resolve({ code: exit, stdout: out, stderr: err, missing: false });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(serverUrl);
  });
  if (missing) {
    if (optional) return undefined;
    throw new OcipullError('UNAUTHORIZED', `${program} is configured for ${serverUrl} but is not installed`, {
      hint: `install ${program} on PATH, or remove it from credHelpers/credsStore`,
    });
  }
  if (code !== 0) {
    // The protocol's "not found" answer: fall through to the next source.
    if (/credentials not found/i.test(stdout + stderr)) return undefined;
    throw new OcipullError(
      'UNAUTHORIZED',
      `${program} get failed for ${serverUrl} (exit ${code}): ${stderr.trim().slice(0, 300)}`,
    );
  }
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new OcipullError('UNAUTHORIZED', `${program} get printed something that is not JSON`);
  }
  if (!parsed.Secret) return undefined;
  if (parsed.Username === '<token>') return { identityToken: parsed.Secret, source };
  return { username: parsed.Username ?? '', password: parsed.Secret, source };
}
