// A small CSV parser (RFC 4180 quoting) for artifact previews.

/** Parse CSV text into rows of cells; stops after `maxRows` rows. */
export function parseCsv(text: string, maxRows = 1000, delimiter?: string): { rows: string[][]; truncated: boolean } {
  const sep = delimiter ?? guessDelimiter(text);
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      cell += c;
      i++;
      continue;
    }
    if (c === '"' && cell === '') {
      quoted = true;
      i++;
    } else if (c === sep) {
      row.push(cell);
      cell = '';
      i++;
    } else if (c === '\n' || c === '\r') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      if (c === '\r' && text[i + 1] === '\n') i++;
      i++;
      if (rows.length >= maxRows) return { rows, truncated: i < n };
    } else {
      cell += c;
      i++;
    }
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return { rows, truncated: false };
}

function guessDelimiter(text: string): string {
  const line = text.slice(0, text.indexOf('\n') >= 0 ? text.indexOf('\n') : 2000);
  const counts: [string, number][] = [',', '\t', ';', '|'].map((d) => [d, line.split(d).length]);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0][1] > 1 ? counts[0][0] : ',';
}
