/** Terminal styling: colour only on a terminal and never when NO_COLOR is set. */

const enabled = (): boolean => Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'] && process.env['TERM'] !== 'dumb';

const wrap = (code: number) => (text: string): string => (enabled() ? `\u001b[${code}m${text}\u001b[0m` : text);

export const style = {
  bold: wrap(1),
  dim: wrap(2),
  red: wrap(31),
  green: wrap(32),
  yellow: wrap(33),
  blue: wrap(34),
  cyan: wrap(36),
};

export function pad(text: string, width: number): string {
  return text.length >= width ? `${text} ` : text + ' '.repeat(width - text.length);
}
