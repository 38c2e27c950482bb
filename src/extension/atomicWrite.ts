// A file written whole or not at all: the bytes go to a temporary file beside the target, which
// is then renamed over it (a rename within one folder is atomic), so a failed or interrupted
// export never leaves a truncated PNG where a good one was. On Windows a target held open by a
// viewer or a scanner refuses the rename for a moment; renameOver retries that (bounded).
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { renameOver } from '../common/renameOver';

export async function writeFileAtomic(target: string, data: Uint8Array): Promise<void> {
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await fs.writeFile(temp, data, { flag: 'wx' });
    await renameOver(temp, target);
  } catch (e) {
    await fs.rm(temp, { force: true });
    throw e;
  }
}
