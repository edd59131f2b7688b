// A small hand-written SVG line chart (no dependency): axes, ticks, labels, a legend, one polyline
// per series with a marker per point. Readable on GitHub (plain SVG 1.1, white background, system fonts).

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v) => (Math.abs(v) >= 1000 ? `${+(v / 1000).toFixed(1)} s` : `${Math.round(v)} ms`);

/** "Nice" linear ticks from 0 to at least max. */
function linearTicks(max, count = 6) {
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = 0; v <= max + step / 2; v += step) ticks.push(v);
  if (ticks.at(-1) < max) ticks.push(ticks.at(-1) + step);
  return ticks;
}

/**
 * series: [{ name, color, dash?, points: [[x, y], …] }]; x on a log axis when xLog. xTicks: the x
 * values to label. notes: lines of text under the chart.
 */
export function lineChart({ title, xLabel, yLabel, series, xTicks, xLog = true, width = 760, height = 440, notes = [] }) {
  const m = { left: 70, right: 250, top: 46, bottom: 62 + 16 * notes.length };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const xs = series.flatMap((s) => s.points.map((p) => p[0])).concat(xTicks);
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  const yTicks = linearTicks(Math.max(...series.flatMap((s) => s.points.map((p) => p[1]))) * 1.05);
  const yMax = yTicks.at(-1);
  const tx = xLog ? (x) => (Math.log(x) - Math.log(xMin)) / (Math.log(xMax) - Math.log(xMin)) : (x) => (x - xMin) / (xMax - xMin);
  const X = (x) => m.left + tx(x) * plotW;
  const Y = (y) => m.top + plotH - (y / yMax) * plotH;
  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${m.left}" y="24" font-size="15" font-weight="bold" fill="#24292f">${esc(title)}</text>`);
  // grid and y ticks
  for (const v of yTicks) {
    const y = Y(v).toFixed(1);
    out.push(`<line x1="${m.left}" y1="${y}" x2="${m.left + plotW}" y2="${y}" stroke="#d0d7de" stroke-width="1"/>`);
    out.push(`<text x="${m.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#57606a">${esc(fmt(v))}</text>`);
  }
  for (const v of xTicks) {
    const x = X(v).toFixed(1);
    out.push(`<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + plotH}" stroke="#eaeef2" stroke-width="1"/>`);
    out.push(`<text x="${x}" y="${m.top + plotH + 18}" text-anchor="middle" fill="#57606a">${esc(v)}</text>`);
  }
  // axes
  out.push(`<line x1="${m.left}" y1="${m.top + plotH}" x2="${m.left + plotW}" y2="${m.top + plotH}" stroke="#24292f" stroke-width="1.5"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="#24292f" stroke-width="1.5"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${m.top + plotH + 40}" text-anchor="middle" fill="#24292f">${esc(xLabel)}</text>`);
  out.push(`<text x="18" y="${m.top + plotH / 2}" text-anchor="middle" fill="#24292f" transform="rotate(-90 18 ${m.top + plotH / 2})">${esc(yLabel)}</text>`);
  // series
  series.forEach((s, k) => {
    const pts = s.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`);
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    if (pts.length > 1) out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2.5"${dash}/>`);
    if (!s.dash) for (const p of pts) out.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="4" fill="${s.color}"/>`);
    const ly = m.top + 8 + k * 22;
    const lx = m.left + plotW + 18;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${dash}/>`);
    out.push(`<text x="${lx + 36}" y="${ly}" dominant-baseline="middle" fill="#24292f">${esc(s.name)}</text>`);
  });
  notes.forEach((n, k) => {
    out.push(`<text x="${m.left}" y="${m.top + plotH + 58 + k * 16}" font-size="11" fill="#57606a">${esc(n)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
