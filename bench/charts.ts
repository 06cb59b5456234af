// Small SVG charts for RESULTS.md: bars per peer, and curves over a scale.

const COLORS = ['#2b7a4b', '#4a6fa5', '#b5651d', '#8e44ad', '#7f8c8d', '#c0392b'];
const WIDTH = 420;
const HEIGHT = 260;
const PLOT = { left: 60, top: 30, width: 340, height: 170 };

function label(value: number): string {
  if (value >= 1_000_000) return `${(value / 1_000_000).toFixed(1)}M`;
  if (value >= 10_000) return `${Math.round(value / 1_000)}k`;
  return value >= 100 ? String(Math.round(value)) : value.toFixed(1);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

/** Panels side by side, each drawn at its own x offset. */
function svg(panels: string[]): string {
  const width = panels.length * WIDTH + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${HEIGHT}" font-family="sans-serif" font-size="11">${panels.join('')}</svg>\n`;
}

function frame(x0: number, title: string, max: number): string {
  const { left, top, width, height } = PLOT;
  return [
    `<text x="${x0 + 10}" y="18" font-size="13" font-weight="bold">${escape(title)}</text>`,
    `<line x1="${x0 + left}" y1="${top + height}" x2="${x0 + left + width}" y2="${top + height}" stroke="#888"/>`,
    `<line x1="${x0 + left}" y1="${top}" x2="${x0 + left}" y2="${top + height}" stroke="#888"/>`,
    `<text x="${x0 + left - 4}" y="${top + 4}" text-anchor="end">${label(max)}</text>`,
    `<text x="${x0 + left - 4}" y="${top + height}" text-anchor="end">0</text>`,
  ].join('');
}

/** One bar per peer in each panel. */
export function barChart(panels: { title: string; bars: { label: string; value: number }[] }[]) {
  return svg(
    panels.map((panel, index) => {
      const x0 = index * WIDTH;
      const max = Math.max(...panel.bars.map((b) => b.value), 1);
      const step = PLOT.width / Math.max(panel.bars.length, 1);
      const bars = panel.bars.map((bar, i) => {
        const h = (bar.value / max) * PLOT.height;
        const x = x0 + PLOT.left + i * step + step * 0.15;
        const w = step * 0.7;
        const base = PLOT.top + PLOT.height;
        return [
          `<rect x="${x}" y="${base - h}" width="${w}" height="${h}" fill="${COLORS[i % COLORS.length]}"/>`,
          `<text x="${x + w / 2}" y="${base - h - 4}" text-anchor="middle">${label(bar.value)}</text>`,
          `<text x="${x + w / 2}" y="${base + 14}" text-anchor="middle" font-size="9">${escape(bar.label)}</text>`,
        ].join('');
      });
      return frame(x0, panel.title, max) + bars.join('');
    }),
  );
}

/** Curves over a shared x scale in each panel, with a legend. */
export function lineChart(
  panels: { title: string; curves: { label: string; points: { x: number; y: number }[] }[] }[],
) {
  return svg(
    panels.map((panel, index) => {
      const x0 = index * WIDTH;
      const all = panel.curves.flatMap((c) => c.points);
      const maxX = Math.max(...all.map((p) => p.x), 1);
      const maxY = Math.max(...all.map((p) => p.y), 1);
      const at = (p: { x: number; y: number }) =>
        `${x0 + PLOT.left + (p.x / maxX) * PLOT.width},${PLOT.top + PLOT.height - (p.y / maxY) * PLOT.height}`;
      const xs = [...new Set(all.map((p) => p.x))];
      const ticks = xs.map(
        (x) =>
          `<text x="${x0 + PLOT.left + (x / maxX) * PLOT.width}" y="${PLOT.top + PLOT.height + 14}" text-anchor="middle">${label(x)}</text>`,
      );
      const curves = panel.curves.map((curve, i) => {
        const color = COLORS[i % COLORS.length];
        const legendY = PLOT.top + PLOT.height + 30 + Math.floor(i / 3) * 12;
        const legendX = x0 + PLOT.left + (i % 3) * 115;
        return [
          `<polyline fill="none" stroke="${color}" stroke-width="2" points="${curve.points.map(at).join(' ')}"/>`,
          ...curve.points.map(
            (p) =>
              `<circle cx="${at(p).split(',')[0]}" cy="${at(p).split(',')[1]}" r="3" fill="${color}"/>`,
          ),
          `<rect x="${legendX}" y="${legendY - 8}" width="10" height="3" fill="${color}"/>`,
          `<text x="${legendX + 14}" y="${legendY - 4}">${escape(curve.label)}</text>`,
        ].join('');
      });
      return frame(x0, panel.title, maxY) + ticks.join('') + curves.join('');
    }),
  );
}
