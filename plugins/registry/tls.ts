/**
 * TLS and plain-HTTP policy per registry host.
 * - Certificates are verified unless `--tls-verify=false` or the host is in `insecureRegistries`.
 * - Plain HTTP is tried only for loopback hosts and insecure ones (after HTTPS failed).
 * - Extra CAs and client certificates come from certs.d directories, as containers and Docker
 *   lay them out: `<dir>/<HOST[:PORT]>/*.crt` (CAs), `*.cert` + `*.key` (client pair); or, with
 *   `--cert-dir DIR` (skopeo's flag), from DIR itself for every host, instead of certs.d.
 */
import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { OcipullError } from 'ocipull';
import { hostname, isLoopback } from './reference.js';

export const DEFAULT_CERT_DIRS = ['/etc/containers/certs.d', '/etc/docker/certs.d'];

export interface TlsSettings {
  rejectUnauthorized: boolean;
  ca?: string[];
  cert?: string;
  key?: string;
}

export interface HostPolicy {
  /** Verify certificates. */
  verify: boolean;
  /** Plain HTTP may be tried when HTTPS does not work. */
  allowHttp: boolean;
  /** Why plain HTTP / no verification is allowed, for debug logs. */
  reason?: string;
}

export class TlsPolicy {
  private readonly insecure: Set<string>;
  private readonly loaded = new Map<string, Promise<TlsSettings>>();

  constructor(
    private readonly options: {
      tlsVerify?: boolean;
      insecureRegistries?: string[];
      certDirs?: string[];
      /** One directory holding the files itself (no HOST subdirectories), used instead of certs.d. */
      certDir?: string;
    } = {},
  ) {
    this.insecure = new Set((options.insecureRegistries ?? []).map((h) => h.toLowerCase()));
  }

  private listedInsecure(host: string): boolean {
    const h = host.toLowerCase();
    return this.insecure.has(h) || this.insecure.has(hostname(h));
  }

  /** Add hosts found insecure elsewhere (registries.conf `insecure = true`). */
  addInsecure(host: string): void {
    this.insecure.add(host.toLowerCase());
  }

  policy(host: string): HostPolicy {
    if (this.options.tlsVerify === false)
      return { verify: false, allowHttp: true, reason: '--tls-verify=false' };
    if (this.listedInsecure(host))
      return { verify: false, allowHttp: true, reason: 'listed in insecureRegistries' };
    if (isLoopback(host)) return { verify: true, allowHttp: true, reason: 'loopback' };
    return { verify: true, allowHttp: false };
  }

  /** Connect options for `https://host`: verification plus certs.d material. */
  settings(host: string): Promise<TlsSettings> {
    let pending = this.loaded.get(host);
    if (!pending) {
      pending = this.load(host);
      this.loaded.set(host, pending);
    }
    return pending;
  }

  private async load(host: string): Promise<TlsSettings> {
    const verify = this.policy(host).verify;
    const dirs = this.options.certDir
      ? [this.options.certDir]
      : (
          this.options.certDirs ?? [
            ...DEFAULT_CERT_DIRS,
            join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'containers', 'certs.d'),
          ]
        ).map((base) => join(base, host.replace(/[/\\]/g, '_')));
    const cas: string[] = [];
    let cert: string | undefined;
    let key: string | undefined;
    for (const dir of dirs) {
      let names: string[];
      try {
        names = (await readdir(dir)).sort();
      } catch (error) {
        if (this.options.certDir) {
          throw new OcipullError('USAGE', `--cert-dir ${dir}: ${(error as Error).message}`, {
            hint: 'name a directory holding the registry CA as *.crt (and a client NAME.cert + NAME.key)',
          });
        }
        continue;
      }
      for (const name of names) {
        if (name.endsWith('.crt')) cas.push(await readFile(join(dir, name), 'utf8'));
        else if (name.endsWith('.cert') && !cert) {
          const keyName = `${name.slice(0, -'.cert'.length)}.key`;
          if (names.includes(keyName)) {
            cert = await readFile(join(dir, name), 'utf8');
            key = await readFile(join(dir, keyName), 'utf8');
          }
        }
      }
    }
    return {
      rejectUnauthorized: verify,
      ...(cas.length ? { ca: [...rootCertificates, ...cas] } : {}),
      ...(cert && key ? { cert, key } : {}),
    };
  }
}
