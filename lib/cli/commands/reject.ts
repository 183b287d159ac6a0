/** `cairn reject STACK [DIR]`: reject the change set a stack awaits (see approve.ts). */
import { decide } from './approve.js';

export async function run(argv: string[]): Promise<number> {
  return decide(argv, 'reject');
}
