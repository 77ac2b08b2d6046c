"""Cost and tokens over time as a PNG embedded in Markdown, which the Dagster UI renders."""

from __future__ import annotations

import base64
import io
from typing import Any


def usage_chart_markdown(series: list[dict[str, Any]], title: str) -> str:
    # Imported here: matplotlib is a heavy import that every run worker would otherwise pay at start-up.
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    days = [row["day"] for row in series]
    fig, cost_axis = plt.subplots(figsize=(8, 3), dpi=90)
    cost_axis.bar(days, [float(r["cost_usd"]) for r in series], color="#4f6bed", label="cost (USD)")
    cost_axis.set_ylabel("cost (USD)")
    token_axis = cost_axis.twinx()
    token_axis.plot(days, [int(r["tokens"]) for r in series], color="#e8833a", marker=".", label="tokens")
    token_axis.set_ylabel("tokens")
    cost_axis.set_title(title)
    fig.autofmt_xdate()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return f"![{title}](data:image/png;base64,{encoded})"
