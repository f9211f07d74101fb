// A stacked bar chart in SVG (accepted below, refused above, one bar per
// hour): the console's only chart, so no charting library.

const SVG = 'http://www.w3.org/2000/svg';

function element(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  return node;
}

/** Draws `hours` ([{hour, accepted, refused}]) into the <svg> `chart` (viewBox 480×160). */
export function drawHourlyBars(chart, hours) {
  chart.replaceChildren();
  const [width, height, axis] = [480, 160, 16];
  const most = Math.max(1, ...hours.map((h) => h.accepted + h.refused));
  const slot = width / Math.max(1, hours.length);
  hours.forEach((h, i) => {
    const x = i * slot + 1;
    const scale = (n) => (n / most) * (height - axis - 4);
    const accepted = scale(h.accepted);
    const refused = scale(h.refused);
    const label = `${new Date(h.hour * 1000).getHours()}:00 — ${h.accepted} ✓, ${h.refused} ✗`;
    const bar = element('g', {});
    bar.append(element('title', {}));
    bar.firstChild.textContent = label;
    bar.append(element('rect', { class: 'accepted', x, y: height - axis - accepted, width: slot - 2, height: accepted }));
    bar.append(element('rect', { class: 'refused', x, y: height - axis - accepted - refused, width: slot - 2, height: refused }));
    chart.append(bar);
    if (i % 3 === 0) {
      const text = element('text', { x, y: height - 4 });
      text.textContent = `${new Date(h.hour * 1000).getHours()}h`;
      chart.append(text);
    }
  });
}
