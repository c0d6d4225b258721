/**
 * Which proxy a registry request goes through: `HTTPS_PROXY` for https: URLs (else
 * `HTTP_PROXY`), `HTTP_PROXY` for http: ones, lower-case names first, none for hosts matched by
 * `NO_PROXY` (`host`, `.domain` / `*.domain` for subdomains, `host:port`, `*` for all). This is
 * the rule of undici's EnvHttpProxyAgent; ocipull picks the proxy itself so that errors can name it.
 */
import { urlForMessages } from 'ocipull';

export type Env = Record<string, string | undefined>;

function parseProxy(value: string): URL | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  try {
    return new URL(withScheme);
  } catch {
    return undefined;
  }
}

function bypassed(url: URL, env: Env): boolean {
  const value = env.no_proxy ?? env.NO_PROXY ?? '';
  if (value.trim() === '*') return true;
  const host = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  for (const entry of value.split(/[,\s]/)) {
    if (!entry) continue;
    const m = /^(.+):(\d+)$/.exec(entry);
    const name = (m ? m[1]! : entry).replace(/^\*?\./, '').toLowerCase();
    if (m && Number(m[2]) !== port) continue;
    if (host === name || host.endsWith(`.${name}`)) return true;
  }
  return false;
}

/** The proxy for `url` under `env`, or undefined for a direct connection. */
export function proxyFor(url: URL, env: Env = process.env): URL | undefined {
  const http = env.http_proxy ?? env.HTTP_PROXY;
  const https = env.https_proxy ?? env.HTTPS_PROXY;
  const value = url.protocol === 'https:' ? https || http : http;
  if (!value || bypassed(url, env)) return undefined;
  return parseProxy(value);
}

/** A proxy URL for messages: never its user name or password. */
export function displayProxy(proxy: URL): string {
  return urlForMessages(proxy, { path: false });
}
