// Time-series charts on uPlot (small, fast, canvas). A canvas says nothing to a screen reader: each chart is an
// image with a summary for a label, and its numbers are one click away as a table.
import { useEffect, useId, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { formatDay } from "../lib/format";

export interface Series {
  label: string;
  values: (number | null)[];
  /** A CSS color. */
  color: string;
  kind?: "bars" | "line";
  format?: (value: number | null) => string;
}

const plain = (value: number | null) => (value === null ? "—" : String(value));

/** Reads a CSS custom property of the document (the charts follow the theme). */
const cssVar = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

export function DailyChart({
  title,
  days,
  series,
  height = 220,
}: {
  title: string;
  /** UTC days, `2026-12-01`. */
  days: string[];
  series: Series[];
  height?: number;
}) {
  const container = useRef<HTMLDivElement>(null);
  const titleId = useId();
  const summary = `${title}: ${series
    .map((s) => {
      const values = s.values.filter((v): v is number => v !== null);
      const total = values.reduce((a, b) => a + b, 0);
      const max = values.length ? Math.max(...values) : 0;
      return `${s.label} — ${values.length ? `peak ${(s.format ?? plain)(max)}` : "no data"}${
        s.kind === "bars" ? `, ${total} in all` : ""
      }`;
    })
    .join("; ")}, over ${days.length} days.`;

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const axis = {
      stroke: cssVar("--text-muted"),
      grid: { stroke: cssVar("--border") },
      ticks: { show: false },
    };
    const xs = days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000);
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      legend: { show: true, live: false },
      cursor: { points: { show: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        {
          ...axis,
          values: (_u, ticks) => ticks.map((t) => formatDay(new Date(t * 1000).toISOString().slice(0, 10))),
        },
        { ...axis, size: 50 },
      ],
      series: [
        {
          label: "Day",
          value: (_u, ts) => (ts === null ? "—" : formatDay(new Date(ts * 1000).toISOString().slice(0, 10))),
        },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: s.kind === "bars" ? 0 : 2,
          fill: s.kind === "bars" ? s.color : undefined,
          paths: s.kind === "bars" ? uPlot.paths.bars?.({ size: [0.7, 40] }) : undefined,
          points: { show: s.kind !== "bars" && days.length < 40 },
          value: (_u: uPlot, v: number | null) => (s.format ?? plain)(v),
          spanGaps: true,
        })),
      ],
    };
    const plot = new uPlot(options, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, element);
    const resize = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(200, element.clientWidth), height }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [days, series, height]);

  return (
    <figure className="chart">
      <figcaption id={titleId} className="chart-title">
        {title}
      </figcaption>
      <div ref={container} role="img" aria-label={summary} className="chart-canvas" />
      <details className="chart-data">
        <summary>Show the numbers</summary>
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">{title}</caption>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                {series.map((s) => (
                  <th scope="col" key={s.label}>
                    {s.label}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {days.map((day, i) => (
                <tr key={day}>
                  <th scope="row">{formatDay(day)}</th>
                  {series.map((s) => (
                    <td key={s.label}>{(s.format ?? plain)(s.values[i] ?? null)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

/** Horizontal bars for a few named values (latency per agent): plain HTML, readable as it is. */
export function BarList({
  title,
  rows,
  format,
}: {
  title: string;
  rows: { label: string; values: { name: string; value: number | null; className: string }[] }[];
  format: (value: number | null) => string;
}) {
  const max = Math.max(1, ...rows.flatMap((row) => row.values.map((v) => v.value ?? 0)));
  return (
    <figure className="chart">
      <figcaption className="chart-title">{title}</figcaption>
      <dl className="bar-list">
        {rows.map((row) => (
          <div key={row.label} className="bar-row">
            <dt>{row.label}</dt>
            {row.values.map((v) => (
              <dd key={v.name} className="bar-cell">
                <span className="bar-name">{v.name}</span>
                <span className="bar-track" aria-hidden="true">
                  <span
                    className={`bar ${v.className}`}
                    style={{ width: `${((v.value ?? 0) / max) * 100}%` }}
                  />
                </span>
                <span className="bar-value">{format(v.value)}</span>
              </dd>
            ))}
          </div>
        ))}
      </dl>
    </figure>
  );
}
