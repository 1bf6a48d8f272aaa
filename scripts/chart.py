"""Draws the chart of BENCHMARKS.md from the load benchmark's figures: each
operation's rate next to the raw limit it is compared with, one panel per
backend, with the ratio written beside it, so the ratios show at a glance.

Usage: python chart.py OUT.svg sqlite.json postgres.json

Each JSON file is what `cargo bench --bench load -- --json FILE` writes.
Operations compared with nothing (session checks, the static baseline)
are left out. The SVG is written deterministically (no date, fixed ids),
so an unchanged run changes nothing in the repository.
"""

import json
import math
import sys

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402

matplotlib.rcParams["svg.hashsalt"] = "countersign"
# Text as text, not as outlines: a tenth of the size, and readable in a diff.
matplotlib.rcParams["svg.fonttype"] = "none"
matplotlib.rcParams["font.size"] = 9

# Where the raw limit is work the server process does itself, its rate per
# core it used says how much else it spends; against a database's inserts
# or another server's rate, that ratio compares unlike things.
CPU_BOUND = ("Argon2id verify", "RS256 sign", "ES256 sign", "EdDSA sign", "RS256 verify")

out, *inputs = sys.argv[1:]
documents = [json.load(open(path)) for path in inputs]
panels = [
    (doc["database"], [r for r in doc["rows"] if r["raw_per_second"] > 0]) for doc in documents
]
tallest = max(len(rows) for _, rows in panels)
figure, axes = plt.subplots(
    len(panels), 1, figsize=(12, 0.42 * tallest * len(panels) + 1.6), squeeze=False
)
for axis, (database, rows) in zip(axes[:, 0], panels):
    rows = list(reversed(rows))  # first operation on top
    names = [r["operation"] for r in rows]
    measured = [r["per_second"] for r in rows]
    raw = [r["raw_per_second"] for r in rows]
    positions = range(len(rows))
    axis.barh(
        [p + 0.2 for p in positions], raw, height=0.38, color="#c9d6e3", label="raw limit, same run"
    )
    axis.barh(
        [p - 0.2 for p in positions], measured, height=0.38, color="#2b6cb0", label="measured"
    )
    for p, row in zip(positions, rows):
        ratio = row["per_second"] / row["raw_per_second"]
        text = f"{ratio:.0%} of {row['compared_with']}"
        if (
            row["compared_with"].startswith(CPU_BOUND)
            and row.get("ratio_per_server_core") is not None
        ):
            text += f"; {row['ratio_per_server_core']:.0%} per server core"
        axis.text(
            max(row["per_second"], row["raw_per_second"]) * 1.08,
            p,
            text,
            va="center",
            fontsize=8,
        )
    axis.set_xscale("log")
    # Room on the right for the ratios; ticks only where the bars are.
    top = max(raw + measured)
    axis.set_xlim(10, top * 30000)
    axis.set_xticks([10**k for k in range(1, math.ceil(math.log10(top)) + 1)])
    axis.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    axis.spines[["top", "right"]].set_visible(False)
    axis.set_yticks(list(positions), names)
    axis.set_xlabel("operations per second (log scale)")
    axis.set_title(f"{database}: each operation next to its raw limit", loc="left")
    axis.grid(axis="x", color="#eeeeee")
    axis.set_axisbelow(True)
handles, labels = axes[0, 0].get_legend_handles_labels()
figure.legend(handles, labels, loc="upper right", ncol=2, fontsize=8, frameon=False)
figure.tight_layout(rect=(0, 0, 1, 0.98))
figure.savefig(out, format="svg", metadata={"Date": None})
