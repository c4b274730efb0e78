"""certificates.csv's rows: the 92 columns of one chunk of certificates, for one local authority.

Values follow each other as in the real data: ratings follow the efficiency bands, flats drive floor level and
"(another dwelling above/below)", LMK_KEY embeds the lodgement time, Welsh authorities lodge some in Welsh.
"""

from __future__ import annotations

import numpy as np

from .authorities import AUTHORITIES, Authority
from .columns import CERTIFICATE_COLUMNS
from .draw import blank, decimal_pool, ints, pick, quote, quote_fast, where
from .vocabulary import (
    AGE_BAND, BUILDINGS, BUILT_FORM, COUNTY_BLANK, EFF_WORDS, ENERGY_TARIFF, FLOOR_DESC, FLOOR_GROUND, FLOOR_HOUSE,
    FLOOR_MID, FLOOR_TOP, GLAZED_AREA, GLAZED_TYPE, HEAT_LOSS_FLAT, HEAT_LOSS_HOUSE, HOTWATER, HOTWATER_CY,
    LIGHTING_CY, LOCALITIES, MAINHEAT, MAINHEATCONT, MAINHEATCONT_CY, MAINHEAT_CY, MAIN_FUEL, MECH_VENT,
    PROPERTY_TYPE, RATING_BY_EFFICIENCY, ROOF, ROOF_CY, SECONDHEAT, SECONDHEAT_CY, SOLAR_FLAG, STREETS, TENURE,
    TRANSACTION_TYPE, UPRN_SOURCE, WALLS, WALLS_CY, WELSH_SHARE, WINDOWS, WINDOWS_CY, YNB,
)

DATE_START = np.datetime64("2008-10-01")
DATE_DAYS = int((np.datetime64("2024-12-31") - DATE_START).astype(int)) + 1
_ALL_DAYS = DATE_START + np.arange(DATE_DAYS + 40)
DATE_POOL = np.array(np.datetime_as_string(_ALL_DAYS), dtype=object)        # "2019-05-31"
DATE_COMPACT = np.array([d.replace("-", "") for d in DATE_POOL], dtype=object)  # "20190531"
TIME_POOL = np.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)], dtype=object)
TIME_COMPACT = np.array([t.replace(":", "") for t in TIME_POOL], dtype=object)


class Decimals:
    """Per-dump pools for the decimal columns (built once from the seed: per-row float formatting is slow)."""

    def __init__(self, rng: np.random.Generator):
        lognormal = rng.lognormal
        self.energy_current = decimal_pool(lambda n: lognormal(5.4, 0.45, n), 1)
        self.energy_potential = decimal_pool(lambda n: lognormal(4.8, 0.5, n), 1)
        self.co2_current = decimal_pool(lambda n: lognormal(1.25, 0.5, n), 1)
        self.co2_area = decimal_pool(lambda n: lognormal(3.7, 0.4, n), 1)
        self.co2_potential = decimal_pool(lambda n: lognormal(0.8, 0.55, n), 1)
        self.lighting = decimal_pool(lambda n: lognormal(4.3, 0.35, n), 2)
        self.heating = decimal_pool(lambda n: lognormal(6.5, 0.5, n), 2)
        self.hot_water = decimal_pool(lambda n: lognormal(4.6, 0.4, n), 2)
        self.area = decimal_pool(lambda n: lognormal(4.4, 0.38, n) + 12, 2)
        self.glaze = np.array(["100.0"] * 30 + [f"{v}.0" for v in range(0, 100, 5)], dtype=object)
        self.corridor = decimal_pool(lambda n: rng.uniform(0.5, 25, n), 2)
        self.height = decimal_pool(lambda n: rng.normal(2.45, 0.15, n), 2)
        self.photo = np.array(["0.0"] * 40 + [f"{v:.1f}" for v in np.linspace(5, 60, 12)], dtype=object)


def _key_suffix(numbers: np.ndarray) -> np.ndarray:
    """A bijection of 0..10**8-1: each certificate number gets distinct, random-looking last 8 digits."""
    return (numbers * 48_271 + 12_345) % 100_000_000


def certificate_lines(rng: np.random.Generator, n: int, first_number: int, authority: Authority | None,
                      postcodes: np.ndarray, dec: Decimals) -> tuple[list[str], np.ndarray]:
    """``n`` CSV lines (without line ends) and their LMK_KEYs, for one authority (None: the unknown folder)."""
    c = certificate_values(rng, n, first_number, authority, postcodes, dec)
    columns = [c[name].tolist() for name in CERTIFICATE_COLUMNS]
    return list(map(",".join, zip(*columns))), c["LMK_KEY"]


def certificate_values(rng: np.random.Generator, n: int, first_number: int, authority: Authority | None,
                       postcodes: np.ndarray, dec: Decimals) -> dict[str, np.ndarray]:
    """``n`` certificates as CSV-ready values by column (``CERTIFICATE_COLUMNS``), for one authority."""
    c: dict[str, np.ndarray] = {}

    # Dates first: LMK_KEY embeds the lodgement timestamp, as the Landmark keys do.
    inspection = rng.integers(0, DATE_DAYS, n)
    lodgement = inspection + rng.choice(np.array([0, 0, 1, 2, 3, 5, 7, 10, 14, 21, 30]), n)
    seconds = rng.integers(7 * 3600, 21 * 3600, n)
    c["INSPECTION_DATE"] = DATE_POOL[inspection]
    c["LODGEMENT_DATE"] = DATE_POOL[lodgement]
    c["LODGEMENT_DATETIME"] = np.array(
        [d + " " + t for d, t in zip(DATE_POOL[lodgement], TIME_POOL[seconds])], dtype=object)
    prefixes = rng.integers(1_000_000_000, 10_000_000_000, n)
    suffixes = _key_suffix(np.arange(first_number, first_number + n, dtype=np.int64))
    keys = np.array([f"{p}{d}{t}{s:08d}" for p, d, t, s in
                     zip(prefixes.tolist(), DATE_COMPACT[lodgement], TIME_COMPACT[seconds], suffixes.tolist())],
                    dtype=object)
    c["LMK_KEY"] = keys

    # Property: flats drive floor level, "(another dwelling above/below)" and N/A efficiencies.
    c["PROPERTY_TYPE"] = ptype = PROPERTY_TYPE.draw(rng, n)
    flat = (ptype == "Flat") | (ptype == "Maisonette")
    level = rng.random(n)
    ground, top = flat & (level < 0.35), flat & (level >= 0.7)
    below = flat & ~ground          # another dwelling below
    above = flat & ~top             # another dwelling above
    c["FLOOR_LEVEL"] = where(ground, FLOOR_GROUND.draw(rng, n), where(top, FLOOR_TOP.draw(rng, n), where(
        flat, FLOOR_MID.draw(rng, n), FLOOR_HOUSE.draw(rng, n))))
    c["FLAT_TOP_STOREY"] = where(flat, where(top, "Y", "N"), where(rng.random(n) < 0.1, "N", ""))
    c["FLAT_STOREY_COUNT"] = where(flat & (rng.random(n) < 0.6), ints(rng.integers(2, 15, n)), "")
    c["HEAT_LOSS_CORRIDOR"] = where(flat, HEAT_LOSS_FLAT.draw(rng, n), HEAT_LOSS_HOUSE.draw(rng, n))
    c["UNHEATED_CORRIDOR_LENGTH"] = where(flat & (c["HEAT_LOSS_CORRIDOR"] == "unheated corridor"),
                                           pick(rng, dec.corridor, n), "")
    c["BUILT_FORM"] = BUILT_FORM.draw(rng, n)

    # Ratings follow the efficiency bands; a few INVALID! ratings and blank efficiencies, as in the data.
    current = np.clip(rng.normal(62, 14, n).round(), 1, 100).astype(np.int64)
    potential = np.clip(current + np.abs(rng.normal(14, 9, n)).round(), 1, 100).astype(np.int64)
    c["CURRENT_ENERGY_RATING"] = where(rng.random(n) < 0.002, "INVALID!", RATING_BY_EFFICIENCY[current])
    c["POTENTIAL_ENERGY_RATING"] = where(rng.random(n) < 0.002, "INVALID!", RATING_BY_EFFICIENCY[potential])
    c["CURRENT_ENERGY_EFFICIENCY"] = blank(ints(current), rng, 0.003)
    c["POTENTIAL_ENERGY_EFFICIENCY"] = blank(ints(potential), rng, 0.003)
    impact = np.clip(current - 4 + rng.normal(0, 7, n).round(), 1, 100).astype(np.int64)
    c["ENVIRONMENT_IMPACT_CURRENT"] = blank(ints(impact), rng, 0.005)
    c["ENVIRONMENT_IMPACT_POTENTIAL"] = blank(ints(np.clip(impact + rng.integers(0, 25, n), 1, 100)), rng, 0.005)

    c["ENERGY_CONSUMPTION_CURRENT"] = blank(pick(rng, dec.energy_current, n), rng, 0.003)
    c["ENERGY_CONSUMPTION_POTENTIAL"] = blank(pick(rng, dec.energy_potential, n), rng, 0.003)
    c["CO2_EMISSIONS_CURRENT"] = pick(rng, dec.co2_current, n)
    c["CO2_EMISS_CURR_PER_FLOOR_AREA"] = blank(pick(rng, dec.co2_area, n), rng, 0.003)
    c["CO2_EMISSIONS_POTENTIAL"] = pick(rng, dec.co2_potential, n)
    c["LIGHTING_COST_CURRENT"] = pick(rng, dec.lighting, n)
    c["LIGHTING_COST_POTENTIAL"] = pick(rng, dec.lighting, n)
    c["HEATING_COST_CURRENT"] = pick(rng, dec.heating, n)
    c["HEATING_COST_POTENTIAL"] = pick(rng, dec.heating, n)
    c["HOT_WATER_COST_CURRENT"] = pick(rng, dec.hot_water, n)
    c["HOT_WATER_COST_POTENTIAL"] = pick(rng, dec.hot_water, n)
    c["TOTAL_FLOOR_AREA"] = pick(rng, dec.area, n)
    c["MULTI_GLAZE_PROPORTION"] = blank(pick(rng, dec.glaze, n), rng, 0.03)
    c["FLOOR_HEIGHT"] = blank(pick(rng, dec.height, n), rng, 0.3)
    c["PHOTO_SUPPLY"] = blank(pick(rng, dec.photo, n), rng, 0.4)

    c["ENERGY_TARIFF"] = ENERGY_TARIFF.draw(rng, n)
    c["MAINS_GAS_FLAG"] = YNB.draw(rng, n)
    c["MAIN_HEATING_CONTROLS"] = blank(ints(rng.choice(np.array([2104, 2105, 2106, 2107, 2110, 2111, 2401,
                                                                   2402, 2404, 2603]), n)), rng, 0.1)
    c["GLAZED_TYPE"] = GLAZED_TYPE.draw(rng, n)
    c["GLAZED_AREA"] = GLAZED_AREA.draw(rng, n)
    rooms = rng.integers(1, 9, n)
    c["EXTENSION_COUNT"] = blank(ints(rng.choice(np.array([0, 0, 0, 0, 1, 1, 2, 3]), n)), rng, 0.08)
    c["NUMBER_HABITABLE_ROOMS"] = blank(ints(rooms), rng, 0.05)
    c["NUMBER_HEATED_ROOMS"] = blank(ints(np.maximum(rooms - rng.choice(np.array([0, 0, 0, 1]), n), 0)), rng, 0.05)
    low_energy = rng.choice(np.array([0, 0, 10, 17, 25, 33, 40, 50, 60, 67, 75, 80, 83, 100, 100, 100, 100]), n)
    c["LOW_ENERGY_LIGHTING"] = blank(ints(low_energy), rng, 0.02)
    c["NUMBER_OPEN_FIREPLACES"] = blank(ints(rng.choice(np.array([0] * 12 + [1, 1, 2]), n)), rng, 0.03)
    c["WIND_TURBINE_COUNT"] = blank(ints(rng.choice(np.array([0] * 200 + [1]), n)), rng, 0.1)
    outlets = rng.integers(3, 40, n)
    newer = rng.random(n) < 0.4  # these two counts only exist on newer certificates
    c["FIXED_LIGHTING_OUTLETS_COUNT"] = where(newer, ints(outlets), "")
    c["LOW_ENERGY_FIXED_LIGHT_COUNT"] = where(newer, ints(outlets * low_energy // 100), "")

    # Element descriptions and their efficiency words (N/A when another dwelling is above/below).
    c["HOTWATER_DESCRIPTION"] = HOTWATER.draw(rng, n)
    c["FLOOR_DESCRIPTION"] = where(below, quote("(another dwelling below)"), FLOOR_DESC.draw(rng, n))
    c["WINDOWS_DESCRIPTION"] = WINDOWS.draw(rng, n)
    c["WALLS_DESCRIPTION"] = WALLS.draw(rng, n)
    c["SECONDHEAT_DESCRIPTION"] = SECONDHEAT.draw(rng, n)
    c["ROOF_DESCRIPTION"] = where(above, quote("(another dwelling above)"), ROOF.draw(rng, n))
    c["MAINHEAT_DESCRIPTION"] = MAINHEAT.draw(rng, n)
    c["MAINHEATCONT_DESCRIPTION"] = MAINHEATCONT.draw(rng, n)
    c["LIGHTING_DESCRIPTION"] = np.array(
        ["Low energy lighting in all fixed outlets" if v == 100 else "No low energy lighting" if v == 0
         else f"Low energy lighting in {v}% of fixed outlets" for v in range(101)], dtype=object)[low_energy]
    if authority is not None and authority.welsh:
        welsh = rng.random(n) < WELSH_SHARE
        for column, pool in (("WALLS_DESCRIPTION", WALLS_CY), ("WINDOWS_DESCRIPTION", WINDOWS_CY),
                             ("MAINHEAT_DESCRIPTION", MAINHEAT_CY), ("MAINHEATCONT_DESCRIPTION", MAINHEATCONT_CY),
                             ("HOTWATER_DESCRIPTION", HOTWATER_CY), ("SECONDHEAT_DESCRIPTION", SECONDHEAT_CY),
                             ("LIGHTING_DESCRIPTION", LIGHTING_CY)):
            c[column] = where(welsh, pool.draw(rng, n), c[column])
        c["ROOF_DESCRIPTION"] = where(welsh & ~above, ROOF_CY.draw(rng, n), c["ROOF_DESCRIPTION"])
    for prefix in ("HOT_WATER", "WINDOWS", "WALLS", "MAINHEAT", "MAINHEATC", "LIGHTING"):
        for kind in ("ENERGY", "ENV"):
            c[f"{prefix}_{kind}_EFF"] = EFF_WORDS.draw(rng, n)
    floor_na = below | (rng.random(n) < 0.6)  # most floors are not rated
    roof_na = above
    for kind in ("ENERGY", "ENV"):
        c[f"FLOOR_{kind}_EFF"] = where(floor_na, "N/A", EFF_WORDS.draw(rng, n))
        c[f"ROOF_{kind}_EFF"] = where(roof_na, "N/A", EFF_WORDS.draw(rng, n))
        c[f"SHEATING_{kind}_EFF"] = where(rng.random(n) < 0.97, "N/A", "")
    c["MAIN_FUEL"] = MAIN_FUEL.draw(rng, n)
    c["SOLAR_WATER_HEATING_FLAG"] = SOLAR_FLAG.draw(rng, n)
    c["MECHANICAL_VENTILATION"] = MECH_VENT.draw(rng, n)
    c["CONSTRUCTION_AGE_BAND"] = AGE_BAND.draw(rng, n)
    c["TRANSACTION_TYPE"] = TRANSACTION_TYPE.draw(rng, n)
    c["TENURE"] = TENURE.draw(rng, n)

    # Where: address parts, postcode, authority, constituency.
    if authority is None:
        code, constituency, label, constituency_label, county = "", "", "", "", ""
        towns = np.array([a.town for a in AUTHORITIES], dtype=object)[rng.integers(0, len(AUTHORITIES), n)]
    else:
        code, label, county = authority.code, authority.label, authority.county
        constituency = ("W07" if authority.welsh else "E14") + f"{int(authority.code[3:]) * 7 % 1_000_000:06d}"
        constituency_label = authority.constituency
        towns = np.full(n, authority.town, dtype=object)
    numbers = rng.integers(1, 250, n)
    streets = pick(rng, np.array(STREETS, dtype=object), n)
    street_lines = [f"{num} {street}" for num, street in zip(numbers.tolist(), streets)]
    flat_numbers = rng.integers(1, 60, n).tolist()
    buildings = pick(rng, np.array(BUILDINGS, dtype=object), n)
    with_building = rng.random(n) < 0.3
    localities = where(rng.random(n) < 0.25, pick(rng, np.array(LOCALITIES, dtype=object), n), "")
    address1, address2 = [], []
    for i in range(n):
        if flat[i]:
            if with_building[i]:
                address1.append(f"Flat {flat_numbers[i]}, {buildings[i]}")  # a comma inside ADDRESS1
            else:
                address1.append(f"Flat {flat_numbers[i]}")
            address2.append(street_lines[i])
        else:
            address1.append(street_lines[i])
            address2.append("")
    address3 = localities.tolist()
    c["ADDRESS"] = np.array([quote_fast(", ".join(p for p in parts if p))
                             for parts in zip(address1, address2, address3)], dtype=object)
    c["ADDRESS1"] = np.array([quote_fast(a) for a in address1], dtype=object)
    c["ADDRESS2"] = np.array(address2, dtype=object)
    c["ADDRESS3"] = localities
    c["POSTCODE"] = pick(rng, postcodes, n)
    c["POSTTOWN"] = towns
    c["BUILDING_REFERENCE_NUMBER"] = rng.integers(1_000_000_000, 10_000_000_000, n).astype(str).astype(object)
    c["LOCAL_AUTHORITY"] = np.full(n, code, dtype=object)
    c["CONSTITUENCY"] = np.full(n, constituency, dtype=object)
    c["COUNTY"] = where(rng.random(n) < COUNTY_BLANK, "", quote(county))
    c["LOCAL_AUTHORITY_LABEL"] = np.full(n, quote(label), dtype=object)
    c["CONSTITUENCY_LABEL"] = np.full(n, quote(constituency_label), dtype=object)
    has_uprn = rng.random(n) >= 0.08
    c["UPRN"] = where(has_uprn, rng.integers(100_000_000_000, 1_000_000_000_000, n).astype(str), "")
    c["UPRN_SOURCE"] = where(has_uprn, UPRN_SOURCE.draw(rng, n), "")
    return c

