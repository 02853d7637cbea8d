"""Chart geometry for the reports, computed here so templates only draw.

The same numbers feed the inline SVG of the HTML file and the CSS-bar tables of the
mailed HTML (mail clients such as Gmail and desktop Outlook do not render SVG).
"""

from __future__ import annotations

from typing import Any

from salescli.core.enums import StageKind

FUNNEL_WIDTH = 640
FUNNEL_LABEL_W = 150
FUNNEL_VALUE_W = 110
FUNNEL_ROW_H = 30
FUNNEL_GAP = 8
OPEN_COLORS = ("#3730a3", "#4338ca", "#4f46e5", "#6366f1", "#818cf8", "#a5b4fc")
WON_COLOR = "#059669"

TREND_SERIES = (("new_prospects", "New prospects", "#4f46e5"),
                ("emails_sent", "Emails sent", "#0891b2"),
                ("replies", "Replies", "#d97706"), ("won", "Deals won", "#059669"))
PANEL_W = 420
PANEL_H = 150
PANEL_TOP = 18  # room for value labels above the tallest bar
PANEL_BOTTOM = 20  # room for the week labels


def _pct(value: float, top: float) -> float:
    return round(100.0 * value / top, 1) if top else 0.0


def funnel(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Centred bars of the prospects in each stage now: the open stages, then won (lost is
    an exit, not a step). ``rows`` are ``metrics.funnel`` rows."""
    steps = [r for r in rows if r["kind"] != StageKind.LOST]
    top = max((r["prospects"] for r in steps), default=0)
    area = FUNNEL_WIDTH - FUNNEL_LABEL_W - FUNNEL_VALUE_W
    centre = FUNNEL_LABEL_W + area / 2
    bars = []
    open_i = 0
    for i, r in enumerate(steps):
        w = area * r["prospects"] / top if top else 0
        if r["prospects"] and w < 3:
            w = 3
        y = i * (FUNNEL_ROW_H + FUNNEL_GAP)
        if r["kind"] == StageKind.WON:
            color = WON_COLOR
        else:
            color = OPEN_COLORS[min(open_i, len(OPEN_COLORS) - 1)]
            open_i += 1
        bars.append({**r, "x": round(centre - w / 2, 1), "y": y, "w": round(w, 1),
                     "h": FUNNEL_ROW_H, "pct": _pct(r["prospects"], top), "color": color,
                     "label_x": FUNNEL_LABEL_W - 12, "value_x": FUNNEL_WIDTH - FUNNEL_VALUE_W + 12,
                     "text_y": y + FUNNEL_ROW_H / 2 + 5})
    height = max(len(steps) * (FUNNEL_ROW_H + FUNNEL_GAP) - FUNNEL_GAP, FUNNEL_ROW_H)
    return {"width": FUNNEL_WIDTH, "height": height, "bars": bars, "max": top,
            "empty": top == 0}


def trend(buckets: list[dict[str, Any]]) -> dict[str, Any]:
    """One small bar chart per series (each on its own scale), newest bucket highlighted."""
    n = max(len(buckets), 1)
    slot = PANEL_W / n
    bar_w = round(slot * 0.62, 1)
    plot_h = PANEL_H - PANEL_TOP - PANEL_BOTTOM
    panels = []
    for key, title, color in TREND_SERIES:
        top = max((b[key] for b in buckets), default=0)
        bars = []
        for i, b in enumerate(buckets):
            h = plot_h * b[key] / top if top else 0
            if b[key] and h < 2:
                h = 2
            x = i * slot + (slot - bar_w) / 2
            y = PANEL_TOP + plot_h - h
            bars.append({"value": b[key], "label": b["label"], "start": b["start"],
                         "end": b["end"], "x": round(x, 1), "y": round(y, 1), "w": bar_w,
                         "h": round(h, 1), "cx": round(x + bar_w / 2, 1),
                         "value_y": round(y - 4, 1), "label_y": PANEL_H - 5,
                         "pct": _pct(b[key], top), "current": i == len(buckets) - 1})
        panels.append({"key": key, "title": title, "color": color, "max": top,
                       "total": sum(b[key] for b in buckets), "bars": bars,
                       "width": PANEL_W, "height": PANEL_H,
                       "baseline": PANEL_TOP + plot_h})
    rows = [{"label": b["label"], "start": b["start"], "end": b["end"],
             "cells": [{"key": p["key"], "value": p["bars"][i]["value"],
                        "pct": p["bars"][i]["pct"], "color": p["color"]} for p in panels]}
            for i, b in enumerate(buckets)]
    return {"panels": panels, "rows": rows, "series": [
        {"key": k, "title": t, "color": c} for k, t, c in TREND_SERIES]}


BAND_W = 640
BAND_H = 190
BAND_TOP = 16
BAND_BOTTOM = 22
BAND_COLOR = "#a5b4fc"
EXPECTED_COLOR = "#3730a3"


def forecast_band(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per month: the forecast's 80 % band (low to high) as a bar, the expected value as a
    tick, and the value actually won as a dot (past months only), on one scale."""
    n = max(len(rows), 1)
    slot = BAND_W / n
    bar_w = round(slot * 0.5, 1)
    plot_h = BAND_H - BAND_TOP - BAND_BOTTOM
    top = max([r["high"] for r in rows] + [r["actual"] or 0 for r in rows], default=0)

    def y(v: float) -> float:
        return round(BAND_TOP + plot_h - (plot_h * v / top if top else 0), 1)

    months = []
    for i, r in enumerate(rows):
        x = i * slot + (slot - bar_w) / 2
        months.append({**r, "x": round(x, 1), "w": bar_w, "cx": round(x + bar_w / 2, 1),
                       "y_high": y(r["high"]), "h": round(max(y(r["low"]) - y(r["high"]), 2), 1),
                       "y_expected": y(r["expected"]),
                       "y_actual": None if r["actual"] is None else y(r["actual"]),
                       "label_y": BAND_H - 6, "pct_low": _pct(r["low"], top),
                       "pct_band": max(_pct(r["high"] - r["low"], top), 1.0),
                       "pct_actual": None if r["actual"] is None else _pct(r["actual"], top),
                       "inside": None if r["actual"] is None else
                       r["low"] <= r["actual"] <= r["high"]})
    return {"width": BAND_W, "height": BAND_H, "months": months, "max": top,
            "baseline": BAND_TOP + plot_h, "band_color": BAND_COLOR,
            "expected_color": EXPECTED_COLOR, "actual_color": WON_COLOR, "empty": not rows}
