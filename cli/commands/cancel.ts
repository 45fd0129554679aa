/** `gem-flow cancel ID`: stops gem-flow's workflow for a running match (GEM has no cancel; its job runs on). */
import type { CommandContext } from '../context.js';
import { EXIT, type ExitCode } from '../errors.js';

export async function cancelCommand(id: string, context: CommandContext): Promise<ExitCode> {
  const target = await context.target();
  const answer = await target.app.cancelMatch(id);
  context.output.document(answer);
  context.output.line(`Cancelled ${answer.id}. ${answer.note}`);
  return EXIT.ok;
}
