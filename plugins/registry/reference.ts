/**
 * Registry references: the distribution/reference grammar
 * (https://github.com/distribution/reference/blob/main/reference.go) and Docker's normalization
 * (`ubuntu` → `docker.io/library/ubuntu:latest`).
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component [ "/" path-component ]*
 *   domain     := host [ ":" port ]      host := domain-name | IPv4 | "[" IPv6 "]"
 *   path-comp  := [a-z0-9]+ ( ( [_.] | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [\w][\w.-]{0,127}
 *   digest     := algorithm ":" hex      (checked further by the core's parseDigest)
 */
import { OcipullError, parseDigest } from 'ocipull';

export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's API answers. */
export const DOCKER_HUB_API = 'registry-1.docker.io';
/** distribution's NameTotalLengthMax, applied (as distribution does) to the repository path alone. */
const NAME_MAX = 255;

const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';

const DOMAIN_RE = new RegExp(`^${DOMAIN}$`);
const PATH_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const DIGEST_RE = new RegExp(`^${DIGEST}$`);

export interface RegistryReference {
  /** Registry host as written after normalization: `docker.io`, `quay.io`, `127.0.0.1:5000`. */
  readonly registry: string;
  /** Repository path: `library/ubuntu`, `podman/machine-os`. */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

/** The input as quoted in messages: a long one is cut (the problem names what matters). */
function shown(input: string): string {
  return input.length > 300
    ? `${JSON.stringify(input.slice(0, 200))}… (${input.length} characters)`
    : JSON.stringify(input);
}

function invalid(input: string, problem: string): OcipullError {
  return new OcipullError('REFERENCE_INVALID', `docker reference ${shown(input)} is invalid: ${problem}`, {
    hint: 'expected docker://[HOST[:PORT]/]REPOSITORY[:TAG][@DIGEST], e.g. docker://quay.io/podman/machine-os:5.5',
  });
}

/**
 * `user:password@host/...`: user information typed into the reference. Refused without echoing
 * it (the message shows only what follows the `@`). A digest's `@` follows the repository path,
 * so an `@` before the first `/` followed by a path, a host or nothing digest-like is this.
 */
function credentialsIn(text: string): string | undefined {
  const at = text.indexOf('@');
  if (at === -1) return undefined;
  const before = text.slice(0, at);
  const after = text.slice(at + 1);
  if (before.includes('/') || after === '' || DIGEST_RE.test(after)) return undefined;
  return after.includes('/') || after.includes('.') || before.includes(':') ? after : undefined;
}

/** Split `host/rest` the way Docker does: the first component is a host only if it looks like one. */
function splitDomain(name: string): { registry: string; repository: string } {
  const slash = name.indexOf('/');
  const first = slash === -1 ? '' : name.slice(0, slash);
  let registry: string;
  let repository: string;
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    registry = DOCKER_HUB;
    repository = name;
  } else {
    registry = first;
    repository = name.slice(slash + 1);
  }
  if (registry === 'index.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository };
}

/**
 * Parse a registry reference (the part after `docker://`), normalized. Neither tag nor digest
 * may be absent in the result only when the input named neither: see `withDefaultTag`.
 */
export function parseReference(input: string): RegistryReference {
  const text = input.startsWith('//') ? input.slice(2) : input;
  if (text === '') throw invalid(input, 'it is empty');
  const afterCredentials = credentialsIn(text);
  if (afterCredentials !== undefined) {
    throw new OcipullError(
      'REFERENCE_INVALID',
      `docker reference docker://<credentials>@${afterCredentials} is refused: credentials cannot be written into a reference (they would show in process lists, shell history and logs)`,
      {
        hint: 'drop the USER:PASSWORD@ part and pass --creds USER:PASSWORD (or --authfile FILE / an auth file written by `podman login`)',
      },
    );
  }
  if (/\s/.test(text)) throw invalid(input, 'it contains white space');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digest))
      throw invalid(input, `${JSON.stringify(digest)} is not a digest (algorithm:hex)`);
    try {
      parseDigest(digest);
    } catch (error) {
      throw invalid(input, (error as Error).message);
    }
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon !== -1 && !rest.slice(colon + 1).includes('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      throw invalid(input, `tag ${JSON.stringify(tag)} does not match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}`);
    }
  }
  if (rest === '') throw invalid(input, 'the repository name is missing');
  const { registry, repository } = splitDomain(rest);
  if (repository.length > NAME_MAX) {
    throw invalid(
      input,
      `the repository path ${repository.slice(0, 40)}… is ${repository.length} characters, more than ${NAME_MAX}`,
    );
  }
  if (!DOMAIN_RE.test(registry))
    throw invalid(input, `${JSON.stringify(registry)} is not a valid registry host`);
  if (repository === '') throw invalid(input, 'the repository name is missing');
  if (repository !== repository.toLowerCase()) throw invalid(input, 'repository names must be lowercase');
  if (!PATH_RE.test(repository)) {
    throw invalid(
      input,
      `repository ${JSON.stringify(repository)} must be lowercase components of [a-z0-9] joined by . _ __ - and /`,
    );
  }
  if (registry === DOCKER_HUB && /^library\/[a-f0-9]{64}$/.test(repository) && !text.includes('/')) {
    throw invalid(input, 'a 64-character hexadecimal string is an image ID, not a repository name');
  }
  return {
    registry,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** Give a reference with neither tag nor digest the default tag (`latest` unless told). */
export function withDefaultTag(ref: RegistryReference, defaultTag = 'latest'): RegistryReference {
  if (ref.tag !== undefined || ref.digest !== undefined) return ref;
  if (!TAG_RE.test(defaultTag)) {
    throw new OcipullError('TAG_INVALID', `default tag ${JSON.stringify(defaultTag)} is not a valid tag`);
  }
  return { ...ref, tag: defaultTag };
}

/** `registry/repository[:tag][@digest]`, the canonical string form. */
export function formatReference(ref: RegistryReference): string {
  return `${ref.registry}/${ref.repository}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** The manifest reference to ask the registry for: the digest when there is one, else the tag. */
export function manifestReference(ref: RegistryReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** Host the API lives on for a registry name (Docker Hub's differs from its name). */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** Host without port, brackets removed: for loopback checks and certs.d lookups. */
export function hostname(registry: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(registry);
  if (v6) return v6[1]!;
  return registry.replace(/:\d+$/, '');
}

export function isLoopback(registry: string): boolean {
  const host = hostname(registry).toLowerCase();
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
