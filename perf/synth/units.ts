// Size parsing and formatting for the generator's options and reports.

const UNITS: Record<string, number> = {
  '': 1, B: 1,
  K: 2 ** 10, KB: 2 ** 10, KIB: 2 ** 10,
  M: 2 ** 20, MB: 2 ** 20, MIB: 2 ** 20,
  G: 2 ** 30, GB: 2 ** 30, GIB: 2 ** 30,
  T: 2 ** 40, TB: 2 ** 40, TIB: 2 ** 40,
  P: 2 ** 50, PB: 2 ** 50, PIB: 2 ** 50,
};

/** "4G", "1.5T", "512MiB", "1073741824" → bytes (binary units). */
export function parseSize(text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) throw new Error(`not a size: ${JSON.stringify(text)}`);
  const unit = UNITS[m[2].toUpperCase()];
  if (unit === undefined) throw new Error(`unknown size unit in ${JSON.stringify(text)}`);
  const v = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(v)) throw new Error(`size out of range: ${text}`);
  return v;
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = bytes;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

export function hex(v: bigint | number): string {
  return (typeof v === 'bigint' ? v : BigInt(v)).toString(16);
}
