// A range of UTC days for the analytics: presets, or two dates. Kept in the URL (`?startDate=&endDate=`).
import { useId } from "react";
import { useSearchParams } from "react-router";
import { daysAgo, isoDay } from "../lib/format";

const PRESETS = [
  { days: 7, label: "7 days" },
  { days: 30, label: "30 days" },
  { days: 90, label: "90 days" },
];

export function useRange(): { startDate: string; endDate: string } {
  const [params] = useSearchParams();
  return {
    startDate: params.get("startDate") ?? daysAgo(29),
    endDate: params.get("endDate") ?? isoDay(new Date()),
  };
}

export function RangePicker() {
  const [params, setParams] = useSearchParams();
  const { startDate, endDate } = useRange();
  const startId = useId();
  const endId = useId();
  const today = isoDay(new Date());
  const set = (start: string, end: string) => {
    const next = new URLSearchParams(params);
    next.set("startDate", start);
    next.set("endDate", end);
    setParams(next, { replace: true });
  };
  return (
    <fieldset className="range">
      <legend className="visually-hidden">Date range (UTC days)</legend>
      <div className="segmented">
        {PRESETS.map((preset) => {
          const start = daysAgo(preset.days - 1);
          const active = startDate === start && endDate === today;
          return (
            <button
              key={preset.days}
              type="button"
              className="button"
              aria-pressed={active}
              onClick={() => set(start, today)}
            >
              {preset.label}
            </button>
          );
        })}
      </div>
      <div className="field">
        <label htmlFor={startId}>From</label>
        <input
          id={startId}
          type="date"
          value={startDate}
          max={endDate}
          onChange={(e) => e.target.value && set(e.target.value, endDate)}
        />
      </div>
      <div className="field">
        <label htmlFor={endId}>To</label>
        <input
          id={endId}
          type="date"
          value={endDate}
          min={startDate}
          onChange={(e) => e.target.value && set(startDate, e.target.value)}
        />
      </div>
    </fieldset>
  );
}
