// A pidfile's record: "<pid>\n" (what other tools read), then "posix-fork start=… sid=… boot=…",
// and the live processes a record names: the recorded pid while its start time and boot match,
// and the surviving members of its recorded session.
import { MAX_INT32 } from '../args';
import { Identity, bootId, identify, sessionMembers } from '../proc';

/** What a pidfile records. */
export interface PidRecord {
  pid: number;
  /** The process's start-time token; null in a file that holds a plain number. */
  start: string | null;
  /** The session a detached daemon runs in (stop ends it); null when none was recorded. */
  sid: number | null;
  /** The boot the record was written in (Linux), or null. */
  boot: string | null;
}

const RECORD_TAG = 'posix-fork';

/** The file's text for `record`. */
export function formatRecord(record: PidRecord): string {
  if (record.start === null) return `${record.pid}\n`;
  let line = `${RECORD_TAG} start=${record.start}`;
  if (record.sid !== null) line += ` sid=${record.sid}`;
  if (record.boot !== null) line += ` boot=${record.boot}`;
  return `${record.pid}\n${line}\n`;
}

/**
 * The record in a pidfile's text, or null when its first line is not a pid (1 to 2^31-1).
 * A second line that is not ours leaves a plain-number record (no identity: no proof).
 */
export function parseRecord(text: string): PidRecord | null {
  const [first, ...rest] = text.split('\n');
  const match = /^\s*(\d{1,10})\s*$/.exec(first);
  if (match === null) return null;
  const pid = Number(match[1]);
  if (pid < 1 || pid > MAX_INT32) return null;
  const record: PidRecord = { pid, start: null, sid: null, boot: null };
  const words = rest.join(' ').trim().split(/\s+/);
  if (words[0] !== RECORD_TAG) return record;
  const fields = new Map<string, string>();
  for (const word of words.slice(1)) {
    const equals = word.indexOf('=');
    if (equals > 0) fields.set(word.slice(0, equals), word.slice(equals + 1));
  }
  const start = fields.get('start');
  if (start === undefined || !/^\S+$/.test(start)) return record;
  const sid = fields.has('sid') ? Number(fields.get('sid')) : null;
  return {
    pid,
    start,
    sid: sid !== null && Number.isInteger(sid) && sid >= 1 && sid <= MAX_INT32 ? sid : null,
    boot: fields.get('boot') ?? null,
  };
}

/** This process's record; `sid` when it is a detached daemon whose session `stop` may end. */
export function recordOfThisProcess(sid: number | null): PidRecord {
  const self = identify(process.pid);
  if (self === null) throw new Error("cannot read this process's own start time");
  return { pid: process.pid, start: self.start, sid, boot: bootId() };
}

/** The live process `record` names, or null: same pid, same start time, same boot. */
export function recordedProcess(record: PidRecord): Identity | null {
  if (record.start === null) return null;
  const live = identify(record.pid);
  if (live === null || live.ended || live.start !== record.start) return null;
  if (record.boot !== null && bootId() !== record.boot) return null;
  return live;
}

/**
 * Live members of the recorded session of a daemon that is gone. A session id cannot be
 * reused while any member lives; a live process with that pid started after the daemon
 * leads a new, unrelated session, and then nothing is claimed.
 */
export function survivingMembers(record: PidRecord): Identity[] {
  if (record.sid === null || record.start === null) return [];
  if (record.boot !== null && bootId() !== record.boot) return [];
  const leader = identify(record.sid);
  if (
    leader !== null &&
    !leader.ended &&
    process.platform === 'linux' &&
    Number(leader.start) > Number(record.start)
  ) {
    return [];
  }
  return sessionMembers(record.sid).filter((member) => !member.ended && member.pid !== process.pid);
}
