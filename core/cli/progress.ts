/**
 * Progress display for the CLI, fed by `hooks.progress`: bars on a terminal (cli-progress), a plain
 * line every few seconds otherwise, JSON lines for GUIs, or nothing. Download counts blob bytes,
 * decompression counts bytes written to the disk file.
 */
import cliProgress from 'cli-progress';
import { type Orchestrator, type Phase, type ProgressEvent, printable } from 'ocipull';

export type ProgressMode = 'auto' | 'plain' | 'json' | 'none';

const PLUGIN_NAME = 'ocipull-cli-progress';
const PLAIN_INTERVAL_MS = Number(process.env.OCIPULL_PROGRESS_INTERVAL_MS ?? 5000);

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

/** Rate and time left of the byte-counting phases. */
class Meter {
  private readonly started = new Map<Phase, { at: number; bytes: number }>();

  /** Bytes per second since the phase's first event (a resumed download's earlier bytes left out). */
  rate(event: ProgressEvent, now: number): number | undefined {
    if (event.bytes === undefined) return undefined;
    const start = this.started.get(event.phase);
    if (start === undefined) {
      this.started.set(event.phase, { at: now, bytes: event.bytes });
      return undefined;
    }
    const seconds = (now - start.at) / 1000;
    return seconds > 0 ? Math.round((event.bytes - start.bytes) / seconds) : undefined;
  }
}

/** Whole percent done, when the phase has a total (100 only when it is done). */
export function percentOf(event: ProgressEvent): number | undefined {
  if (event.bytes === undefined || !event.total) return undefined;
  return event.bytes >= event.total ? 100 : Math.min(99, Math.floor((100 * event.bytes) / event.total));
}

/** Seconds left at `rate`: 0 when done, unknown without a total or a rate yet. */
export function etaOf(event: ProgressEvent, rate: number | undefined): number | undefined {
  if (event.bytes === undefined || !event.total) return undefined;
  if (event.bytes >= event.total) return 0;
  return rate ? Math.ceil((event.total - event.bytes) / rate) : undefined;
}

/** `75` → `1m15s`. */
function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const m = Math.floor(seconds / 60);
  return m < 60
    ? `${m}m${String(seconds % 60).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function describe(event: ProgressEvent, rate: number | undefined): string {
  const parts: string[] = [event.phase];
  // One line per event, whatever the message holds (a hostile reference must not drive the terminal).
  if (event.message) parts.push(printable(event.message));
  if (event.bytes !== undefined) {
    const total = event.total ? ` / ${formatBytes(event.total)} (${percentOf(event)}%)` : '';
    parts.push(`${formatBytes(event.bytes)}${total}`);
  }
  if (rate !== undefined) parts.push(`${formatBytes(rate)}/s`);
  const eta = etaOf(event, rate);
  if (eta !== undefined && eta > 0) parts.push(`ETA ${formatSeconds(eta)}`);
  return parts.join(' ');
}

/**
 * Show progress of the orchestrator's pulls on `stream` (stderr in the CLI). `auto` draws bars
 * when `stream` is a TTY and prints plain lines otherwise. Returns a function that stops the
 * display (bars are finished and the cursor restored).
 */
export function attachProgress(
  orchestrator: Orchestrator,
  mode: ProgressMode,
  stream: NodeJS.WritableStream & { isTTY?: boolean },
): () => void {
  if (mode === 'none') return () => {};
  const effective = mode === 'auto' ? (stream.isTTY ? 'bars' : 'plain') : mode;
  let active = true;
  const meter = new Meter();
  const report =
    effective === 'json'
      ? jsonReporter(stream, meter)
      : effective === 'bars'
        ? barReporter(stream, meter)
        : plainReporter(stream, meter);
  orchestrator.hooks.progress.tap(PLUGIN_NAME, (event) => {
    if (!active) return;
    try {
      report.event(event);
    } catch {
      // A display problem never fails a pull.
    }
  });
  orchestrator.hooks.failed.tap(PLUGIN_NAME, () => {
    if (active) report.stop();
  });
  return () => {
    if (!active) return;
    active = false;
    report.stop();
  };
}

interface Reporter {
  event(event: ProgressEvent): void;
  stop(): void;
}

function jsonReporter(stream: NodeJS.WritableStream, meter: Meter): Reporter {
  return {
    event(event) {
      const rate = meter.rate(event, Date.now());
      const line = {
        phase: event.phase,
        bytes: event.bytes,
        total: event.total,
        percent: percentOf(event),
        rate,
        eta: etaOf(event, rate),
        message: event.message,
      };
      stream.write(`${JSON.stringify(line)}\n`);
    },
    stop() {},
  };
}

function plainReporter(stream: NodeJS.WritableStream, meter: Meter): Reporter {
  const lastLine = new Map<Phase, number>();
  return {
    event(event) {
      const now = Date.now();
      const rate = meter.rate(event, now);
      const counting = event.phase === 'download' || event.phase === 'decompress';
      const last = lastLine.get(event.phase);
      // Phase changes and the end of a download at once, byte counts every few seconds (a log,
      // not an animation).
      const finished = event.total !== undefined && event.bytes !== undefined && event.bytes >= event.total;
      if (counting && !finished && last !== undefined && now - last < PLAIN_INTERVAL_MS) return;
      lastLine.set(event.phase, now);
      if (event.phase === 'write') return;
      stream.write(`ocipull: ${describe(event, rate)}\n`);
    },
    stop() {},
  };
}

function barReporter(stream: NodeJS.WritableStream & { columns?: number }, meter: Meter): Reporter {
  // The text beside the bar takes up to 64 columns: the bar gets the rest (an 80-column terminal
  // shows the whole line, ETA included).
  const barsize = Math.max(10, Math.min(30, (stream.columns || 80) - 64));
  const multibar = new cliProgress.MultiBar(
    {
      stream: stream as NodeJS.WritableStream,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      barsize,
      etaBuffer: 40,
      fps: 8,
      format: '{label} [{bar}] {percentage}% {done} / {size} {speed} ETA {eta_formatted}',
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<Phase, cliProgress.SingleBar>();
  let stopped = false;
  const payload = (event: ProgressEvent, rate: number | undefined) => ({
    label: event.phase === 'download' ? 'download  ' : 'decompress',
    done: formatBytes(event.bytes ?? 0),
    size: event.total ? formatBytes(event.total) : '?',
    speed: rate ? `${formatBytes(rate)}/s` : '-',
  });
  const show = (event: ProgressEvent) => {
    const rate = meter.rate(event, Date.now());
    let bar = bars.get(event.phase);
    if (!bar) {
      // Decompressed size is not known up front: bytes and rate, no bar.
      const options = event.phase === 'decompress' ? { format: '{label} {done} written | {speed}' } : {};
      bar = multibar.create(event.total ?? 0, 0, payload(event, rate), options);
      bars.set(event.phase, bar);
    }
    if (event.total && event.total !== bar.getTotal()) bar.setTotal(event.total);
    bar.update(event.bytes ?? 0, payload(event, rate));
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    // The final rendering of every bar, then a newline: what is printed next starts on its own line.
    if (bars.size > 0) multibar.stop();
  };
  return {
    event(event) {
      if (stopped) return;
      if (event.phase === 'download' || event.phase === 'decompress') show(event);
      // The bytes written in the end, as the last decompress count.
      else if (event.phase === 'write' && bars.has('decompress'))
        show({ phase: 'decompress', bytes: event.bytes });
      else if (event.phase === 'done') stop();
    },
    stop,
  };
}
