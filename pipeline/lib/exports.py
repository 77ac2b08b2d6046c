"""Writing a report (a summary plus tables) as CSV, JSON or XLSX."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd  # imported where used: a heavy import for every run worker


EXPORT_FORMATS = ("csv", "json", "xlsx")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return value


def write_report(summary: dict[str, Any], tables: dict[str, pd.DataFrame], fmt: str, out: Path) -> Path:
    """CSV holds the first table (the detail rows); JSON and XLSX hold the summary and every table."""
    import pandas as pd

    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; choose one of: {', '.join(EXPORT_FORMATS)}.")
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        next(iter(tables.values())).to_csv(out, index=False)
    elif fmt == "json":
        payload = {"summary": summary, **{name: t.to_dict(orient="records") for name, t in tables.items()}}
        out.write_text(json.dumps(payload, indent=2, default=str))
    else:
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            pd.DataFrame({"metric": list(summary), "value": [_plain(v) for v in summary.values()]}).to_excel(
                writer, sheet_name="summary", index=False
            )
            for name, table in tables.items():
                frame = table.copy()
                for col in frame.columns:
                    if isinstance(frame[col].dtype, pd.DatetimeTZDtype):
                        frame[col] = frame[col].dt.tz_localize(None)
                frame.map(_plain).to_excel(writer, sheet_name=name[:31], index=False)
    return out
