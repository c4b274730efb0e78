"""recommendations.csv's rows: 0-6 improvements per certificate, new-style (numbered) or old-style (free text)."""

from __future__ import annotations

import numpy as np

from .draw import INTS, pick, quote, where

# Recommendations: (RdSAP improvement number, its text, indicative cost); costs include the comma and the £.
IMPROVEMENTS = [
    (1, "Insulate hot water cylinder with 80 mm jacket", "£15 - £30"),
    (4, "Hot water cylinder thermostat", "£200 - £400"),
    (5, "Increase loft insulation to 270 mm", "£100 - £350"),
    (6, "Cavity wall insulation", "£500 - £1,500"),
    (7, "Internal or external wall insulation", "£4,000 - £14,000"),
    (13, "Heating controls (room thermostat and TRVs)", "£350 - £450"),
    (19, "Solar water heating", "£4,000 - £6,000"),
    (20, "Replace boiler with new condensing boiler", "£2,200 - £3,000"),
    (34, "Solar photovoltaic panels, 2.5 kWp", "£5,000 - £8,000"),
    (35, "Low energy lighting for all fixed outlets", "£35"),
    (44, "Replace single glazed windows with low-E double glazing", "£3,300 - £6,500"),
    (46, "Floor insulation (suspended floor)", "£800 - £1,200"),
    (48, "High performance external doors", "£1,000"),
    (57, "Flat roof or sloping ceiling insulation", "£850 - £2,500"),
]
IMPROVEMENT_WEIGHTS = np.array([5, 3, 12, 8, 10, 8, 8, 6, 14, 10, 3, 8, 3, 2], dtype=float)
# Older certificates carry free-text summary/description and no IMPROVEMENT_ID; ~20 % of rows here.
OLD_STYLE_SHARE = 0.2
OLD_SUMMARY = [
    ("Increase loft insulation to 270 mm", "For loft insulation to be effective, it needs to be at least 270 mm "
     "thick. Insulation should not be placed below any cold water storage tank."),
    ("Low energy lighting for all fixed outlets", "Replacement of traditional light bulbs with energy saving "
     "recommended ones will reduce lighting costs over the lifetime of the bulb, and they last up to 12 times "
     "longer than ordinary light bulbs."),
    ("Cavity wall insulation", "Cavity wall insulation, to fill the gap between the inner and outer layers of "
     "external walls with an insulating material, reduces heat loss; this will improve levels of comfort."),
    ("Upgrade heating controls", "Thermostatic radiator valves allow the temperature of each room to be "
     "controlled to suit individual needs, adding to comfort and reducing heating costs."),
]
# How many recommendations a certificate has (0..6); tuned so recommendations are ~15 % of the bytes.
RECS_PER_CERTIFICATE = np.array([40, 23, 15, 10, 6, 4, 2], dtype=float)

_IMPROVEMENT_CUMULATIVE = np.cumsum(IMPROVEMENT_WEIGHTS / IMPROVEMENT_WEIGHTS.sum())
_NEW_STYLE = np.array([f",,,{i},{quote(text)},{quote(cost)}" for i, text, cost in IMPROVEMENTS], dtype=object)
_OLD_STYLE = np.array([f",{quote(s)},{quote(d)},,," for s, d in OLD_SUMMARY], dtype=object)
_RECS_CUMULATIVE = np.cumsum(RECS_PER_CERTIFICATE / RECS_PER_CERTIFICATE.sum())


def recommendation_lines(rng: np.random.Generator, keys: np.ndarray) -> list[str]:
    """0-6 recommendation lines per certificate key, IMPROVEMENT_ITEM numbered 1..n within each certificate."""
    counts = np.searchsorted(_RECS_CUMULATIVE, rng.random(len(keys)), side="right")
    total = int(counts.sum())
    if not total:
        return []
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    items = np.arange(total) - starts + 1
    tails = _NEW_STYLE[np.searchsorted(_IMPROVEMENT_CUMULATIVE, rng.random(total), side="right")]
    old = rng.random(total) < OLD_STYLE_SHARE
    tails = where(old, pick(rng, _OLD_STYLE, total), tails)
    return [f"{k},{i}{t}" for k, i, t in zip(np.repeat(keys, counts), INTS[items], tails)]

