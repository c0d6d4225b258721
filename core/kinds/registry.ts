import { OcipullError } from '../errors/errors.js';
import type { Settings } from '../settings.js';
import { suggestion } from '../suggest.js';
import type { Kind } from './types.js';

/** `5.5.1` → `5.5`. */
export function majorMinor(version: string): string {
  const [major, minor] = version.split('.');
  return minor === undefined ? (major ?? version) : `${major}.${minor}`;
}

/**
 * A frozen copy of a kind: its own fields and those of its class (a spread would drop the methods
 * a `class implements Kind` declares), methods bound to the kind.
 */
function recordOf(kind: Kind): Kind {
  const record: Record<string, unknown> = {};
  for (let o: object | null = kind; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === 'constructor' || key in record) continue;
      const value = (kind as unknown as Record<string, unknown>)[key];
      record[key] = typeof value === 'function' ? value.bind(kind) : value;
    }
  }
  return record as unknown as Kind;
}

/** The artifact kinds plugins have registered (one record each), looked up by `--kind`. */
export class KindRegistry {
  private readonly kinds = new Map<string, Kind>();

  register(kind: Kind): void {
    if (!kind || typeof kind.name !== 'string' || typeof kind.plan !== 'function') {
      throw new OcipullError(
        'PLUGIN_INVALID',
        'a kind must have a string `name` and a `plan(request)` method',
      );
    }
    if (this.kinds.has(kind.name)) {
      throw new OcipullError('PLUGIN_DUPLICATE', `kind ${kind.name} is registered twice`);
    }
    this.kinds.set(kind.name, Object.freeze(recordOf(kind)));
  }

  has(name: string): boolean {
    return this.kinds.has(name);
  }

  list(): Kind[] {
    return [...this.kinds.values()];
  }

  /**
   * The tag a reference naming none gets for the run's kind: the `defaultTag` transport setting,
   * else the kind record's `defaultTag(settings)`, else `latest`. A kind no plugin registered
   * (the pull fails with NO_KIND once resolved) keeps the machine-os tag for `disk` only.
   */
  defaultTag(settings: Readonly<Settings>): string {
    if (settings.transport.defaultTag) return settings.transport.defaultTag;
    const kind = this.kinds.get(settings.kind);
    if (kind) return kind.defaultTag?.(settings) ?? 'latest';
    return settings.kind === 'disk' ? majorMinor(settings.machineOsVersion) : 'latest';
  }

  /** The kind named, or NO_KIND naming the kinds there are. */
  get(name: string): Kind {
    const kind = this.kinds.get(name);
    if (kind) return kind;
    const known = [...this.kinds.keys()].sort();
    throw new OcipullError('NO_KIND', `no plugin provides the artifact kind "${name}"`, {
      hint: known.length
        ? `${suggestion(name, known)}kinds: ${known.join(', ')}`
        : 'use a preset (--preset qemu) or add the plugin that registers the kind',
    });
  }
}
