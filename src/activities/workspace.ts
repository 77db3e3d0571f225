// The workspace_* tools: text files under the worker's `--workspace` root and nowhere else.
// Absolute paths, `..` escapes and symlinks that lead outside are refused with an observation the
// model can act on. Writes replace the whole file through a rename, so a retried write (after a
// crash) leaves the same content, never a doubled one.
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import type { ToolCallOutcome } from '../shared/toolbox.js';

export const WORKSPACE_READ_MAX_CHARS = 64 * 1024;
const LIST_MAX_ENTRIES = 1000;

class Refused extends Error {}

const PATH_ERRORS: Record<string, string> = {
  ENAMETOOLONG: 'that path (or one of its names) is too long.',
  ELOOP: 'that path has too many symbolic links.',
  EINVAL: 'that path is not valid here.',
  EACCES: 'permission denied for that path.',
  EPERM: 'that operation is not permitted on that path.',
  EEXIST: 'something else already exists at that path.',
  ENOTEMPTY: 'that folder is not empty.',
};

/** A file with another name elsewhere (a hard link) could be outside the workspace: never touched. */
function refuseHardLink(given: unknown, links: number): void {
  if (links > 1) throw new Refused(`"${String(given)}" has ${links} hard links; files with more than one link are refused.`);
}

export interface WorkspaceToolInput {
  tool: string;
  args: Record<string, unknown>;
  idempotencyKey: string;
}

export function createWorkspaceTool(root: string | undefined) {
  return async function workspaceTool(input: WorkspaceToolInput): Promise<ToolCallOutcome> {
    if (!root) return { ok: false, text: 'Error: this worker has no workspace (--workspace is not set).' };
    try {
      switch (input.tool) {
        case 'workspace_read':
          return await read(root, input.args);
        case 'workspace_write':
          return await write(root, input.args, input.idempotencyKey);
        case 'workspace_list':
          return await list(root, input.args);
        default:
          return { ok: false, text: `Error: unknown workspace tool ${input.tool}.` };
      }
    } catch (err) {
      if (err instanceof Refused) return { ok: false, text: `Error: ${err.message}` };
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { ok: false, text: 'Error: no such file or folder in the workspace.' };
      if (code === 'EISDIR') return { ok: false, text: 'Error: that path is a folder; use workspace_list.' };
      if (code === 'ENOTDIR') return { ok: false, text: 'Error: that path is a file, not a folder.' };
      // A path the file system will never accept: retrying cannot help, the model should hear it now.
      const pathError = code ? PATH_ERRORS[code] : undefined;
      if (pathError) return { ok: false, text: `Error: ${pathError}` };
      throw err; // I/O trouble: let Temporal retry
    }
  };
}

/** The absolute path for `given`, after checking it stays inside the root (symlinks resolved). */
async function inside(root: string, given: unknown): Promise<string> {
  if (typeof given !== 'string' || given.length === 0) throw new Refused('"path" must be a non-empty relative path.');
  if (given.includes('\0')) throw new Refused('"path" contains a NUL character.');
  if (isAbsolute(given)) throw new Refused(`"${given}" is absolute; give a path relative to the workspace root.`);
  const realRoot = await realpath(root);
  const target = resolve(realRoot, given);
  if (!within(realRoot, target)) throw new Refused(`"${given}" is outside the workspace.`);
  // Resolve symlinks on the longest existing prefix: a link pointing outside is refused.
  let existing = target;
  for (;;) {
    try {
      const real = await realpath(existing);
      if (!within(realRoot, real)) throw new Refused(`"${given}" leads outside the workspace through a symbolic link.`);
      return existing === target ? real : join(real, relative(existing, target));
    } catch (err) {
      if (err instanceof Refused) throw err;
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const parent = dirname(existing);
      if (parent === existing) throw err;
      existing = parent;
    }
  }
}

function within(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

async function read(root: string, args: Record<string, unknown>): Promise<ToolCallOutcome> {
  const file = await inside(root, args.path);
  const offset = typeof args.offset === 'number' && Number.isInteger(args.offset) && args.offset > 0 ? args.offset : 0;
  // Check what was opened, not the name: the file cannot be swapped between the check and the read.
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  let text: string;
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!info.isFile()) throw new Refused(`"${String(args.path)}" is not a regular file.`);
    refuseHardLink(args.path, info.nlink);
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  const part = text.slice(offset, offset + WORKSPACE_READ_MAX_CHARS);
  const rest = text.length - offset - part.length;
  const more = rest > 0 ? `\n…[${rest} more chars; read on with offset ${offset + part.length}]` : '';
  return { ok: true, text: part + more };
}

async function write(root: string, args: Record<string, unknown>, idempotencyKey: string): Promise<ToolCallOutcome> {
  if (typeof args.content !== 'string') throw new Refused('"content" must be a string.');
  const file = await inside(root, args.path);
  const existing = await lstat(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (existing?.isFile()) refuseHardLink(args.path, existing.nlink);
  await mkdir(dirname(file), { recursive: true });
  // Write a temp file named after the call, then rename: readers never see half a file.
  const temp = `${file}.${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 12)}.tmp`;
  Context.current().heartbeat();
  await writeFile(temp, args.content, 'utf8');
  await rename(temp, file);
  return { ok: true, text: `Wrote ${args.content.length} chars to ${relative(await realpath(root), file)}.` };
}

async function list(root: string, args: Record<string, unknown>): Promise<ToolCallOutcome> {
  const dir = await inside(root, args.path ?? '.');
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const lines: string[] = [];
  for (const e of entries.slice(0, LIST_MAX_ENTRIES)) {
    if (e.isDirectory()) lines.push(`${e.name}/`);
    else if (e.isFile()) lines.push(`${e.name} (${(await stat(join(dir, e.name))).size} bytes)`);
    else if (e.isSymbolicLink()) lines.push(`${e.name} (link)`);
  }
  if (entries.length > LIST_MAX_ENTRIES) lines.push(`…and ${entries.length - LIST_MAX_ENTRIES} more`);
  return { ok: true, text: lines.length ? lines.join('\n') : '(empty folder)' };
}
