"""Generate an EPC-like dump: the real folder layout, the 92 certificate columns and the real messiness.

Why this exists: the tests, the ``make run`` demo and the benchmark all need realistic data, and the real
EPC domestic dump (36 GB, personal addresses, its own licence) cannot be shipped in the repository. This module
writes a stand-in that looks like it to a loader (see ``shared/EPC_SCHEMA.md``):

* one folder per local authority, ``domestic-<ONS code>-<Name>/`` (English ``E0...``, a few Welsh ``W06...``,
  and ``domestic-_unknown_local_authority--Unknown-Local-Authority-``), each with ``certificates.csv`` (the 92
  columns, in file order) and ``recommendations.csv`` (7 columns, keyed by LMK_KEY, 0-6 rows per certificate);
* UTF-8 without BOM, ``\\n`` line endings, csv QUOTE_MINIMAL quoting (descriptions with commas are quoted);
* value shapes a type inferrer must cope with: integer-like columns are strictly integers or blank, decimal
  columns always carry a decimal point, dates are ISO, LMK_KEY is a 32-digit string that overflows int64,
  UPRN is 12 digits or blank; plus the sentinels (``NO DATA!``, ``NODATA!``, ``INVALID!``), the literal
  ``None`` and ``N/A`` as data, ``£`` and ``²``, Welsh text with a lost apostrophe (``wedi?i``), FLOOR_LEVEL
  mixing ``Ground``/``01``/``1.0``/``mid floor``.

Speed: the data is made column by column with numpy from small precomputed pools of *already CSV-quoted*
strings (quoted once with the csv module, so the output is byte-for-byte what ``csv.writer`` with QUOTE_MINIMAL
and ``lineterminator="\\n"`` writes); a row is then one ``",".join``. About 200 MB takes a few seconds.

Deterministic: the same ``seed``, ``target_mb`` and ``authorities`` write the same bytes.

    python -m data_processor.sample_data DEST --mb 200 --seed 1
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CERTIFICATE_COLUMNS: list[str] = (
    "LMK_KEY,ADDRESS1,ADDRESS2,ADDRESS3,POSTCODE,BUILDING_REFERENCE_NUMBER,CURRENT_ENERGY_RATING,"
    "POTENTIAL_ENERGY_RATING,CURRENT_ENERGY_EFFICIENCY,POTENTIAL_ENERGY_EFFICIENCY,PROPERTY_TYPE,BUILT_FORM,"
    "INSPECTION_DATE,LOCAL_AUTHORITY,CONSTITUENCY,COUNTY,LODGEMENT_DATE,TRANSACTION_TYPE,ENVIRONMENT_IMPACT_CURRENT,"
    "ENVIRONMENT_IMPACT_POTENTIAL,ENERGY_CONSUMPTION_CURRENT,ENERGY_CONSUMPTION_POTENTIAL,CO2_EMISSIONS_CURRENT,"
    "CO2_EMISS_CURR_PER_FLOOR_AREA,CO2_EMISSIONS_POTENTIAL,LIGHTING_COST_CURRENT,LIGHTING_COST_POTENTIAL,"
    "HEATING_COST_CURRENT,HEATING_COST_POTENTIAL,HOT_WATER_COST_CURRENT,HOT_WATER_COST_POTENTIAL,TOTAL_FLOOR_AREA,"
    "ENERGY_TARIFF,MAINS_GAS_FLAG,FLOOR_LEVEL,FLAT_TOP_STOREY,FLAT_STOREY_COUNT,MAIN_HEATING_CONTROLS,"
    "MULTI_GLAZE_PROPORTION,GLAZED_TYPE,GLAZED_AREA,EXTENSION_COUNT,NUMBER_HABITABLE_ROOMS,NUMBER_HEATED_ROOMS,"
    "LOW_ENERGY_LIGHTING,NUMBER_OPEN_FIREPLACES,HOTWATER_DESCRIPTION,HOT_WATER_ENERGY_EFF,HOT_WATER_ENV_EFF,"
    "FLOOR_DESCRIPTION,FLOOR_ENERGY_EFF,FLOOR_ENV_EFF,WINDOWS_DESCRIPTION,WINDOWS_ENERGY_EFF,WINDOWS_ENV_EFF,"
    "WALLS_DESCRIPTION,WALLS_ENERGY_EFF,WALLS_ENV_EFF,SECONDHEAT_DESCRIPTION,SHEATING_ENERGY_EFF,SHEATING_ENV_EFF,"
    "ROOF_DESCRIPTION,ROOF_ENERGY_EFF,ROOF_ENV_EFF,MAINHEAT_DESCRIPTION,MAINHEAT_ENERGY_EFF,MAINHEAT_ENV_EFF,"
    "MAINHEATCONT_DESCRIPTION,MAINHEATC_ENERGY_EFF,MAINHEATC_ENV_EFF,LIGHTING_DESCRIPTION,LIGHTING_ENERGY_EFF,"
    "LIGHTING_ENV_EFF,MAIN_FUEL,WIND_TURBINE_COUNT,HEAT_LOSS_CORRIDOR,UNHEATED_CORRIDOR_LENGTH,FLOOR_HEIGHT,"
    "PHOTO_SUPPLY,SOLAR_WATER_HEATING_FLAG,MECHANICAL_VENTILATION,ADDRESS,LOCAL_AUTHORITY_LABEL,CONSTITUENCY_LABEL,"
    "POSTTOWN,CONSTRUCTION_AGE_BAND,LODGEMENT_DATETIME,TENURE,FIXED_LIGHTING_OUTLETS_COUNT,"
    "LOW_ENERGY_FIXED_LIGHT_COUNT,UPRN,UPRN_SOURCE"
).split(",")
RECOMMENDATION_COLUMNS: list[str] = [
    "LMK_KEY", "IMPROVEMENT_ITEM", "IMPROVEMENT_SUMMARY_TEXT", "IMPROVEMENT_DESCR_TEXT",
    "IMPROVEMENT_ID", "IMPROVEMENT_ID_TEXT", "INDICATIVE_COST",
]

# Which columns hold which shape (what a type inferrer should find). The tests check the files against these.
INTEGER_COLUMNS = (
    "CURRENT_ENERGY_EFFICIENCY", "POTENTIAL_ENERGY_EFFICIENCY", "ENVIRONMENT_IMPACT_CURRENT",
    "ENVIRONMENT_IMPACT_POTENTIAL", "FLAT_STOREY_COUNT", "EXTENSION_COUNT", "NUMBER_HABITABLE_ROOMS",
    "NUMBER_HEATED_ROOMS", "LOW_ENERGY_LIGHTING", "NUMBER_OPEN_FIREPLACES", "WIND_TURBINE_COUNT",
    "FIXED_LIGHTING_OUTLETS_COUNT", "LOW_ENERGY_FIXED_LIGHT_COUNT",
)
DECIMAL_COLUMNS = (
    "ENERGY_CONSUMPTION_CURRENT", "ENERGY_CONSUMPTION_POTENTIAL", "CO2_EMISSIONS_CURRENT",
    "CO2_EMISS_CURR_PER_FLOOR_AREA", "CO2_EMISSIONS_POTENTIAL", "LIGHTING_COST_CURRENT", "LIGHTING_COST_POTENTIAL",
    "HEATING_COST_CURRENT", "HEATING_COST_POTENTIAL", "HOT_WATER_COST_CURRENT", "HOT_WATER_COST_POTENTIAL",
    "TOTAL_FLOOR_AREA", "MULTI_GLAZE_PROPORTION", "UNHEATED_CORRIDOR_LENGTH", "FLOOR_HEIGHT", "PHOTO_SUPPLY",
)
DATE_COLUMNS = ("INSPECTION_DATE", "LODGEMENT_DATE")
DATETIME_COLUMNS = ("LODGEMENT_DATETIME",)

#: Share of the bytes that goes to certificates.csv (the rest is recommendations.csv), roughly.
CERTIFICATE_SHARE = 0.85

UNKNOWN_FOLDER = "domestic-_unknown_local_authority--Unknown-Local-Authority-"


@dataclass(frozen=True)
class Authority:
    code: str          # ONS code: E06000001, W06000015
    label: str         # LOCAL_AUTHORITY_LABEL, as in the data: "Kingston upon Hull, City of"
    area: str          # postcode area: TS, CF
    districts: tuple[int, ...]
    town: str          # POSTTOWN
    county: str        # COUNTY (often blank in the data)
    constituency: str  # CONSTITUENCY_LABEL

    @property
    def folder(self) -> str:
        """``domestic-E06000010-Kingston-upon-Hull-City-of``: the label with commas dropped, spaces hyphenated."""
        return f"domestic-{self.code}-{self.label.replace(',', '').replace(' ', '-')}"

    @property
    def welsh(self) -> bool:
        return self.code.startswith("W")


# Real ONS codes and names. Welsh ones are spread out so that even 3 folders include one.
AUTHORITIES: tuple[Authority, ...] = (
    Authority("E06000001", "Hartlepool", "TS", (24, 25, 26, 27), "HARTLEPOOL", "", "Hartlepool"),
    Authority("W06000015", "Cardiff", "CF", (3, 5, 10, 11, 14, 23, 24), "CARDIFF", "", "Cardiff Central"),
    Authority("E06000002", "Middlesbrough", "TS", (1, 3, 4, 5, 7), "MIDDLESBROUGH", "", "Middlesbrough"),
    Authority("E06000003", "Redcar and Cleveland", "TS", (6, 10, 11, 12, 13, 14), "REDCAR", "",
              "Redcar"),
    Authority("E06000010", "Kingston upon Hull, City of", "HU", (1, 2, 3, 4, 5, 6, 7, 8, 9), "HULL", "",
              "Kingston upon Hull East"),
    Authority("E06000004", "Stockton-on-Tees", "TS", (17, 18, 19, 20, 21), "STOCKTON-ON-TEES", "",
              "Stockton North"),
    Authority("W06000011", "Swansea", "SA", (1, 2, 3, 4, 5, 6, 7), "SWANSEA", "", "Swansea West"),
    Authority("E06000005", "Darlington", "DL", (1, 2, 3), "DARLINGTON", "", "Darlington"),
    Authority("E08000003", "Manchester", "M", (1, 4, 8, 9, 11, 12, 13, 14, 15, 16, 19, 20), "MANCHESTER",
              "Greater Manchester", "Manchester Central"),
    Authority("E08000025", "Birmingham", "B", (5, 6, 8, 10, 11, 12, 13, 14, 20, 23, 29, 31), "BIRMINGHAM",
              "West Midlands", "Birmingham, Ladywood"),
    Authority("E06000023", "Bristol, City of", "BS", (1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16), "BRISTOL", "",
              "Bristol West"),
    Authority("W06000002", "Gwynedd", "LL", (35, 36, 40, 41, 49, 53, 54, 55, 57), "CAERNARFON", "", "Arfon"),
    Authority("E08000035", "Leeds", "LS", (1, 2, 4, 6, 7, 8, 9, 11, 12, 15, 17), "LEEDS", "West Yorkshire",
              "Leeds Central"),
    Authority("E07000211", "Reigate and Banstead", "RH", (1, 2), "REIGATE", "Surrey", "Reigate"),
    Authority("E09000033", "Westminster", "SW", (1,), "LONDON", "Greater London",
              "Cities of London and Westminster"),
    Authority("E06000014", "York", "YO", (1, 10, 23, 24, 26, 30, 31, 32), "YORK", "", "York Central"),
    Authority("W06000022", "Newport", "NP", (10, 18, 19, 20), "NEWPORT", "", "Newport East"),
    Authority("E06000006", "Halton", "WA", (7, 8), "RUNCORN", "Cheshire", "Halton"),
    Authority("E06000007", "Warrington", "WA", (1, 2, 3, 4, 5), "WARRINGTON", "Cheshire", "Warrington North"),
    Authority("E06000008", "Blackburn with Darwen", "BB", (1, 2, 3), "BLACKBURN", "Lancashire", "Blackburn"),
    Authority("E06000009", "Blackpool", "FY", (1, 2, 3, 4), "BLACKPOOL", "Lancashire", "Blackpool South"),
    Authority("E06000011", "East Riding of Yorkshire", "YO", (15, 16, 25, 42, 43), "BRIDLINGTON", "",
              "Beverley and Holderness"),
    Authority("E06000012", "North East Lincolnshire", "DN", (31, 32, 33, 34, 35), "GRIMSBY", "",
              "Great Grimsby"),
    Authority("E06000013", "North Lincolnshire", "DN", (15, 16, 17, 18), "SCUNTHORPE", "", "Scunthorpe"),
    Authority("W06000001", "Isle of Anglesey", "LL", (58, 59, 60, 61, 62, 65), "HOLYHEAD", "", "Ynys Mon"),
    Authority("E06000015", "Derby", "DE", (1, 3, 21, 22, 23, 24), "DERBY", "Derbyshire", "Derby North"),
    Authority("E06000016", "Leicester", "LE", (1, 2, 3, 4, 5), "LEICESTER", "Leicestershire",
              "Leicester South"),
    Authority("E06000017", "Rutland", "LE", (15,), "OAKHAM", "", "Rutland and Melton"),
    Authority("E06000018", "Nottingham", "NG", (1, 2, 3, 5, 6, 7, 8), "NOTTINGHAM", "", "Nottingham East"),
    Authority("E06000019", "Herefordshire, County of", "HR", (1, 2, 4, 6, 8, 9), "HEREFORD", "",
              "North Herefordshire"),
    Authority("E06000020", "Telford and Wrekin", "TF", (1, 2, 3, 4, 7), "TELFORD", "Shropshire", "Telford"),
    Authority("E06000021", "Stoke-on-Trent", "ST", (1, 2, 3, 4, 6), "STOKE-ON-TRENT", "Staffordshire",
              "Stoke-on-Trent Central"),
    Authority("W06000004", "Denbighshire", "LL", (15, 16, 17, 18, 19), "RHYL", "", "Vale of Clwyd"),
    Authority("E06000022", "Bath and North East Somerset", "BA", (1, 2), "BATH", "Somerset", "Bath"),
    Authority("E06000024", "North Somerset", "BS", (20, 21, 22, 23, 24), "WESTON-SUPER-MARE", "Somerset",
              "Weston-super-Mare"),
    Authority("E06000025", "South Gloucestershire", "BS", (30, 32, 34, 35, 37), "BRISTOL",
              "Gloucestershire", "Filton and Bradley Stoke"),
    Authority("E06000026", "Plymouth", "PL", (1, 2, 3, 4, 5, 6, 7), "PLYMOUTH", "Devon",
              "Plymouth, Sutton and Devonport"),
    Authority("E06000027", "Torbay", "TQ", (1, 2, 3, 4, 5), "TORQUAY", "Devon", "Torbay"),
    Authority("E07000008", "Cambridge", "CB", (1, 2, 3, 4, 5), "CAMBRIDGE", "Cambridgeshire", "Cambridge"),
    Authority("E07000178", "Oxford", "OX", (1, 2, 3, 4), "OXFORD", "Oxfordshire", "Oxford East"),
    Authority("E09000001", "City of London", "EC", (1, 2, 3, 4), "LONDON", "Greater London",
              "Cities of London and Westminster"),
)
MAX_AUTHORITIES = len(AUTHORITIES) + 1  # + the unknown folder


@dataclass(frozen=True)
class GeneratedDump:
    """What :func:`generate_epc_dump` wrote. ``files`` lists certificates.csv then recommendations.csv per folder."""

    root: Path
    files: list[Path]
    certificate_rows: int
    recommendation_rows: int
    total_bytes: int
    archive: Path | None = None
    """The zip holding ``files`` (the current layout with ``--zip``)."""


# ---------------------------------------------------------------------------------------------------------------
# Value pools. Each pool holds CSV-ready strings (already quoted where needed) and weights.


def _quote(value: str) -> str:
    """The field exactly as ``csv.writer`` (QUOTE_MINIMAL) writes it; done once per pool value, not per row."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([value, ""])
    return buffer.getvalue()[:-2]  # drop the trailing ",\n" of the dummy second field


def _quote_fast(value: str) -> str:
    """Per-row quoting for the few generated free-text fields; same rule as the csv module's QUOTE_MINIMAL."""
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\r\n') else value


class Pool:
    """Weighted categorical values, stored quoted, drawn with one ``searchsorted`` per chunk."""

    def __init__(self, weighted: dict[str, float] | list[str]):
        if isinstance(weighted, list):
            weighted = dict.fromkeys(weighted, 1.0)
        self.values = np.array([_quote(v) for v in weighted], dtype=object)
        weights = np.array(list(weighted.values()), dtype=float)
        self.cumulative = np.cumsum(weights / weights.sum())
        self.cumulative[-1] = 1.0

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.values[np.searchsorted(self.cumulative, rng.random(n), side="right")]


RATING_BY_EFFICIENCY = np.array(["G"] * 21 + ["F"] * 18 + ["E"] * 16 + ["D"] * 14 + ["C"] * 12 + ["B"] * 11
                                + ["A"] * 9, dtype=object)  # index 0..100; A 92+, B 81-91, ... G 1-20
INTS = np.array([str(i) for i in range(100_001)], dtype=object)
EFF_WORDS = Pool({"Very Good": 12, "Good": 30, "Average": 30, "Poor": 18, "Very Poor": 10})

PROPERTY_TYPE = Pool({"House": 55, "Flat": 20, "Bungalow": 10, "Maisonette": 4, "Park home": 0.3})
BUILT_FORM = Pool({"Semi-Detached": 30, "Mid-Terrace": 25, "End-Terrace": 14, "Detached": 20,
                   "Enclosed Mid-Terrace": 2, "Enclosed End-Terrace": 1, "NO DATA!": 3})
TRANSACTION_TYPE = Pool({
    "marketed sale": 35, "rental (private)": 20, "rental (social)": 14, "new dwelling": 12, "ECO assessment": 6,
    "FiT application": 3, "RHI application": 1, "Stock Condition Survey": 1, "none of the above": 4,
    "assessment for green deal": 1, "not recorded": 1,
    "rental - this is for backwards compatibility only and should not be used": 0.5,
    "Non marketed sale": 1, "NO DATA!": 0.5,
})
ENERGY_TARIFF = Pool({"Single": 60, "dual": 18, "off-peak 7 hour": 4, "24 hour": 2, "Unknown": 6,
                      "dual (24 hour)": 1, "off-peak 10 hour": 1, "NO DATA!": 5, "INVALID!": 1})
YNB = Pool({"Y": 70, "N": 22, "": 8})
FLOOR_GROUND = Pool({"Ground": 60, "00": 25, "0": 0.1, "ground floor": 5, "Basement": 3, "NODATA!": 3})
FLOOR_MID = Pool({"1st": 30, "01": 25, "02": 12, "2nd": 10, "mid floor": 10, "1.0": 3, "3rd": 5, "03": 5})
FLOOR_TOP = Pool({"top floor": 30, "02": 20, "3rd": 15, "04": 10, "21st or above": 2, "5th": 5, "2nd": 15})
FLOOR_HOUSE = Pool({"": 85, "NODATA!": 12, "Ground": 3})
GLAZED_TYPE = Pool({
    "double glazing installed before 2002": 25, "double glazing installed during or after 2002": 35,
    "double glazing, unknown install date": 18, "triple glazing": 1, "single glazing": 3, "secondary glazing": 1,
    "not defined": 4, "NO DATA!": 8, "INVALID!": 1,
})
GLAZED_AREA = Pool({"Normal": 80, "More Than Typical": 5, "Less Than Typical": 3, "Much More Than Typical": 1,
                    "Much Less Than Typical": 0.5, "NO DATA!": 10})
HOTWATER = Pool({
    "From main system": 70, "From main system, no cylinder thermostat": 6, "Electric immersion, off-peak": 8,
    "Electric immersion, standard tariff": 4, "Gas multipoint": 1, "From main system, waste water heat recovery": 1,
    "Community scheme": 2, "From main system, plus solar": 1, "No system present: electric immersion assumed": 1,
})
FLOOR_DESC = Pool({
    "Suspended, no insulation (assumed)": 25, "Solid, no insulation (assumed)": 30, "Solid, insulated": 5,
    "To unheated space, insulated (assumed)": 2, "Suspended, insulated (assumed)": 3, "Solid, limited insulation "
    "(assumed)": 4, "Average thermal transmittance 0.13 W/m²K": 5, "Average thermal transmittance 0.22 W/m²K": 3,
    "To external air, no insulation (assumed)": 1,
})
WINDOWS = Pool({"Fully double glazed": 70, "Partial double glazing": 8, "Single glazed": 3, "Full secondary "
                "glazing": 1, "High performance glazing": 8, "Fully triple glazed": 1, "Multiple glazing throughout": 4,
                "Mostly double glazing": 5})
WALLS = Pool({
    "Cavity wall, as built, insulated (assumed)": 22, "Cavity wall, filled cavity": 20,
    "Cavity wall, as built, no insulation (assumed)": 12, "Cavity wall, as built, partial insulation (assumed)": 4,
    "Solid brick, as built, no insulation (assumed)": 14, "Solid brick, with internal insulation": 1,
    "Solid brick, with external insulation": 1, "Timber frame, as built, insulated (assumed)": 3,
    "System built, as built, no insulation (assumed)": 2,
    "Sandstone or limestone, as built, no insulation (assumed)": 1,
    "Average thermal transmittance 0.28 W/m²K": 5, "Average thermal transmittance 0.18 W/m²K": 3,
    "Average thermal transmittance 0.30 W/m2K": 0.5,
    "Cavity wall, filled cavity, Cavity wall, filled cavity": 0.5,
})
SECONDHEAT = Pool({"None": 72, "Room heaters, electric": 14, "Room heaters, mains gas": 6,
                   "Room heaters, wood logs": 4, "Portable electric heaters (assumed)": 2,
                   "Room heaters, dual fuel (mineral and wood)": 1, "Room heaters, coal": 0.5})
ROOF = Pool({
    "Pitched, 270 mm loft insulation": 22, "Pitched, 200 mm loft insulation": 12, "Pitched, 100 mm loft insulation": 12,
    "Pitched, 300+ mm loft insulation": 8, "Pitched, no insulation (assumed)": 4, "Pitched, insulated (assumed)": 8,
    "Flat, no insulation (assumed)": 3, "Flat, insulated (assumed)": 2, "Roof room(s), insulated (assumed)": 4,
    "Roof room(s), no insulation (assumed)": 1, "Average thermal transmittance 0.13 W/m²K": 6,
    "Pitched, 12 mm loft insulation": 1, "Pitched, limited insulation (assumed)": 2,
})
MAINHEAT = Pool({
    "Boiler and radiators, mains gas": 72, "Boiler and radiators, mains gas, Boiler and radiators, mains gas": 1,
    "Electric storage heaters": 7, "Air source heat pump, radiators, electric": 3, "Boiler and radiators, oil": 3,
    "Room heaters, electric": 3, "Community scheme": 2, "Boiler and underfloor heating, mains gas": 2,
    "Boiler and radiators, LPG": 1, "Electric underfloor heating": 1, "Warm air, mains gas": 1, "NO DATA!": 1,
})
MAINHEATCONT = Pool({
    "Programmer, room thermostat and TRVs": 50, "Programmer, TRVs and bypass": 10, "Time and temperature zone control":
    6, "Manual charge control": 5, "Programmer and room thermostat": 10, "Programmer and appliance thermostats": 4,
    "Room thermostat only": 4, "No time or thermostatic control of room temperature": 2,
    "Automatic charge control": 4, "Flat rate charging, TRVs": 1, "%%MAINHEATCONTROL%%": 0.3,
})
MAIN_FUEL = Pool({
    "mains gas (not community)": 70, "electricity (not community)": 12, "oil (not community)": 3,
    "mains gas - this is for backwards compatibility only and should not be used": 5,
    "Electricity: electricity, unspecified tariff": 3, "LPG (not community)": 1, "NO DATA!": 2,
    "To be used only when there is no heating/hot-water system": 1, "smokeless coal": 0.5,
    "wood logs": 0.5, "mains gas (community)": 1,
})
HEAT_LOSS_FLAT = Pool({"no corridor": 40, "unheated corridor": 35, "heated corridor": 15, "NO DATA!": 10})
HEAT_LOSS_HOUSE = Pool({"": 80, "NO DATA!": 20})
MECH_VENT = Pool({"natural": 85, "mechanical, extract only": 6, "mechanical, supply and extract": 2,
                  "NO DATA!": 5, "": 2})
AGE_BAND = Pool({
    "England and Wales: before 1900": 12, "England and Wales: 1900-1929": 13, "England and Wales: 1930-1949": 14,
    "England and Wales: 1950-1966": 13, "England and Wales: 1967-1975": 11, "England and Wales: 1976-1982": 6,
    "England and Wales: 1983-1990": 6, "England and Wales: 1991-1995": 4, "England and Wales: 1996-2002": 5,
    "England and Wales: 2003-2006": 4, "England and Wales: 2007 onwards": 3, "England and Wales: 2007-2011": 2,
    "England and Wales: 2012 onwards": 2, "2015": 0.5, "2019": 0.5, "2021": 0.3, "NO DATA!": 2, "INVALID!": 0.5,
    "Not applicable": 0.3, "": 1.5,
})
TENURE = Pool({
    "owner-occupied": 35, "Owner-occupied": 12, "rental (private)": 14, "Rented (private)": 6,
    "rental (social)": 12, "Rented (social)": 4, "unknown": 3, "NO DATA!": 3, "Not defined - use in the case of a "
    "new dwelling for which the intended tenure in not known. It is no": 5, "": 2,
})
SOLAR_FLAG = Pool({"N": 80, "Y": 1, "": 19})
UPRN_SOURCE = Pool({"Address Matched": 85, "Energy Assessor": 15})
COUNTY_BLANK = 0.5

# Welsh-language variants: in Welsh authorities some certificates are lodged in Welsh.
WELSH_SHARE = 0.15
WALLS_CY = Pool(["Waliau ceudod, ceudod wedi?i lenwi",
                 "Waliau ceudod, fel y?u hadeiladwyd, dim inswleiddio (rhagdybiaeth)",
                 "Briciau solet, fel y?u hadeiladwyd, dim inswleiddio (rhagdybiaeth)"])
ROOF_CY = Pool(["Ar oleddf, 270 mm o inswleiddio yn y llofft", "Ar oleddf, dim inswleiddio (rhagdybiaeth)"])
WINDOWS_CY = Pool(["Gwydrau dwbl llawn", "Gwydrau dwbl rhannol"])
MAINHEAT_CY = Pool(["Bwyler a rheiddiaduron, nwy prif gyflenwad", "Gwresogyddion storio trydan"])
MAINHEATCONT_CY = Pool(["Rhaglennydd, thermostat ystafell a TRVs", "Rhaglennydd a thermostat ystafell"])
HOTWATER_CY = Pool(["O?r brif system", "Trochi trydan, allfrig"])
SECONDHEAT_CY = Pool(["Dim", "Gwresogyddion ystafell, trydan"])
LIGHTING_CY = Pool(["Goleuadau ynni-isel ym mhob un o?r mannau gosod",
                    "Goleuadau ynni-isel mewn 50% o?r mannau gosod"])

STREETS = [
    "High Street", "Station Road", "Church Lane", "Park Avenue", "Mill Lane", "Victoria Road", "Queen Street",
    "King Street", "Manor Road", "The Green", "York Road", "St John's Road", "St. Mary's Close", "Oakwood Drive",
    "Elm Grove", "Beech Avenue", "Chestnut Close", "Windsor Road", "Albert Street", "Grange Road", "Hill Crescent",
    "Westfield Way", "Marine Parade", "Front Street", "Lime Tree Walk", "Woodland View", "Orchard Court",
    "Ashfield Terrace", "Coronation Street", "Springfield Road", "Heol y Frenhines", "Ffordd yr Eglwys",
]
LOCALITIES = ["Seaton Carew", "Greatham", "Hart", "Elwick", "Dalton Piercy", "Llandaff", "Roath", "Canton",
              "Old Town", "Westbrook", "Northgate", "Southfield", "Eastfield"]
BUILDINGS = ["Rose Court", "Victoria House", "Mill View", "The Maltings", "Kingsway House", "Riverside Apartments",
             "Harbour Point", "Clifton Mansions"]

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

DATE_START = np.datetime64("2008-10-01")
DATE_DAYS = int((np.datetime64("2024-12-31") - DATE_START).astype(int)) + 1
_ALL_DAYS = DATE_START + np.arange(DATE_DAYS + 40)
DATE_POOL = np.array(np.datetime_as_string(_ALL_DAYS), dtype=object)        # "2019-05-31"
DATE_COMPACT = np.array([d.replace("-", "") for d in DATE_POOL], dtype=object)  # "20190531"
TIME_POOL = np.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)], dtype=object)
TIME_COMPACT = np.array([t.replace(":", "") for t in TIME_POOL], dtype=object)
INWARD = np.array([f"{d}{a}{b}" for d in range(10) for a in "ABDEFGHJLNPQRSTUWXYZ"
                   for b in "ABDEFGHJLNPQRSTUWXYZ"], dtype=object)  # "8AB": letters real postcodes use


# ---------------------------------------------------------------------------------------------------------------
# Building blocks


def _where(mask: np.ndarray, yes, no) -> np.ndarray:
    return np.where(mask, yes, no).astype(object)


def _blank(values: np.ndarray, rng: np.random.Generator, share: float) -> np.ndarray:
    """Blank out about ``share`` of the values (real files have blanks in every kind of column)."""
    if share:
        values = values.copy()
        values[rng.random(len(values)) < share] = ""
    return values


def _ints(values: np.ndarray) -> np.ndarray:
    return INTS[np.asarray(values, dtype=np.int64)]


def _decimal_pool(draw, places: int, size: int = 4096) -> np.ndarray:
    """``size`` decimal strings ("123.45") from ``draw(size)``; always with a point, never negative."""
    return np.array([f"{v:.{places}f}" for v in np.abs(draw(size))], dtype=object)


def _pick(rng: np.random.Generator, pool: np.ndarray, n: int) -> np.ndarray:
    return pool[rng.integers(0, len(pool), n)]


class _Decimals:
    """Per-dump pools for the decimal columns (built once from the seed: per-row float formatting is slow)."""

    def __init__(self, rng: np.random.Generator):
        lognormal = rng.lognormal
        self.energy_current = _decimal_pool(lambda n: lognormal(5.4, 0.45, n), 1)
        self.energy_potential = _decimal_pool(lambda n: lognormal(4.8, 0.5, n), 1)
        self.co2_current = _decimal_pool(lambda n: lognormal(1.25, 0.5, n), 1)
        self.co2_area = _decimal_pool(lambda n: lognormal(3.7, 0.4, n), 1)
        self.co2_potential = _decimal_pool(lambda n: lognormal(0.8, 0.55, n), 1)
        self.lighting = _decimal_pool(lambda n: lognormal(4.3, 0.35, n), 2)
        self.heating = _decimal_pool(lambda n: lognormal(6.5, 0.5, n), 2)
        self.hot_water = _decimal_pool(lambda n: lognormal(4.6, 0.4, n), 2)
        self.area = _decimal_pool(lambda n: lognormal(4.4, 0.38, n) + 12, 2)
        self.glaze = np.array(["100.0"] * 30 + [f"{v}.0" for v in range(0, 100, 5)], dtype=object)
        self.corridor = _decimal_pool(lambda n: rng.uniform(0.5, 25, n), 2)
        self.height = _decimal_pool(lambda n: rng.normal(2.45, 0.15, n), 2)
        self.photo = np.array(["0.0"] * 40 + [f"{v:.1f}" for v in np.linspace(5, 60, 12)], dtype=object)


def _postcodes(rng: np.random.Generator, authority: Authority | None, size: int = 2500) -> np.ndarray:
    """A per-authority pool of postcodes (neighbours share postcodes, as in the data)."""
    if authority is None:  # unknown authority: any area
        outward = [f"{a.area}{d}" for a in AUTHORITIES for d in a.districts]
    else:
        outward = [f"{authority.area}{d}" for d in authority.districts]
    picked_out = _pick(rng, np.array(outward, dtype=object), size)
    picked_in = _pick(rng, INWARD, size)
    return np.array([f"{o} {i}" for o, i in zip(picked_out, picked_in)], dtype=object)


def _key_suffix(numbers: np.ndarray) -> np.ndarray:
    """A bijection of 0..10**8-1: each certificate number gets distinct, random-looking last 8 digits."""
    return (numbers * 48_271 + 12_345) % 100_000_000


# ---------------------------------------------------------------------------------------------------------------
# Certificates and recommendations for one chunk of rows


def _certificate_chunk(rng: np.random.Generator, n: int, first_number: int, authority: Authority | None,
                       postcodes: np.ndarray, dec: _Decimals) -> tuple[list[str], np.ndarray]:
    """``n`` CSV lines (without line ends) and their LMK_KEYs, for one authority (None: the unknown folder)."""
    c = certificate_values(rng, n, first_number, authority, postcodes, dec)
    columns = [c[name].tolist() for name in CERTIFICATE_COLUMNS]
    return list(map(",".join, zip(*columns))), c["LMK_KEY"]


def certificate_values(rng: np.random.Generator, n: int, first_number: int, authority: Authority | None,
                       postcodes: np.ndarray, dec: _Decimals) -> dict[str, np.ndarray]:
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
    c["FLOOR_LEVEL"] = _where(ground, FLOOR_GROUND.draw(rng, n), _where(top, FLOOR_TOP.draw(rng, n), _where(
        flat, FLOOR_MID.draw(rng, n), FLOOR_HOUSE.draw(rng, n))))
    c["FLAT_TOP_STOREY"] = _where(flat, _where(top, "Y", "N"), _where(rng.random(n) < 0.1, "N", ""))
    c["FLAT_STOREY_COUNT"] = _where(flat & (rng.random(n) < 0.6), _ints(rng.integers(2, 15, n)), "")
    c["HEAT_LOSS_CORRIDOR"] = _where(flat, HEAT_LOSS_FLAT.draw(rng, n), HEAT_LOSS_HOUSE.draw(rng, n))
    c["UNHEATED_CORRIDOR_LENGTH"] = _where(flat & (c["HEAT_LOSS_CORRIDOR"] == "unheated corridor"),
                                           _pick(rng, dec.corridor, n), "")
    c["BUILT_FORM"] = BUILT_FORM.draw(rng, n)

    # Ratings follow the efficiency bands; a few INVALID! ratings and blank efficiencies, as in the data.
    current = np.clip(rng.normal(62, 14, n).round(), 1, 100).astype(np.int64)
    potential = np.clip(current + np.abs(rng.normal(14, 9, n)).round(), 1, 100).astype(np.int64)
    c["CURRENT_ENERGY_RATING"] = _where(rng.random(n) < 0.002, "INVALID!", RATING_BY_EFFICIENCY[current])
    c["POTENTIAL_ENERGY_RATING"] = _where(rng.random(n) < 0.002, "INVALID!", RATING_BY_EFFICIENCY[potential])
    c["CURRENT_ENERGY_EFFICIENCY"] = _blank(_ints(current), rng, 0.003)
    c["POTENTIAL_ENERGY_EFFICIENCY"] = _blank(_ints(potential), rng, 0.003)
    impact = np.clip(current - 4 + rng.normal(0, 7, n).round(), 1, 100).astype(np.int64)
    c["ENVIRONMENT_IMPACT_CURRENT"] = _blank(_ints(impact), rng, 0.005)
    c["ENVIRONMENT_IMPACT_POTENTIAL"] = _blank(_ints(np.clip(impact + rng.integers(0, 25, n), 1, 100)), rng, 0.005)

    c["ENERGY_CONSUMPTION_CURRENT"] = _blank(_pick(rng, dec.energy_current, n), rng, 0.003)
    c["ENERGY_CONSUMPTION_POTENTIAL"] = _blank(_pick(rng, dec.energy_potential, n), rng, 0.003)
    c["CO2_EMISSIONS_CURRENT"] = _pick(rng, dec.co2_current, n)
    c["CO2_EMISS_CURR_PER_FLOOR_AREA"] = _blank(_pick(rng, dec.co2_area, n), rng, 0.003)
    c["CO2_EMISSIONS_POTENTIAL"] = _pick(rng, dec.co2_potential, n)
    c["LIGHTING_COST_CURRENT"] = _pick(rng, dec.lighting, n)
    c["LIGHTING_COST_POTENTIAL"] = _pick(rng, dec.lighting, n)
    c["HEATING_COST_CURRENT"] = _pick(rng, dec.heating, n)
    c["HEATING_COST_POTENTIAL"] = _pick(rng, dec.heating, n)
    c["HOT_WATER_COST_CURRENT"] = _pick(rng, dec.hot_water, n)
    c["HOT_WATER_COST_POTENTIAL"] = _pick(rng, dec.hot_water, n)
    c["TOTAL_FLOOR_AREA"] = _pick(rng, dec.area, n)
    c["MULTI_GLAZE_PROPORTION"] = _blank(_pick(rng, dec.glaze, n), rng, 0.03)
    c["FLOOR_HEIGHT"] = _blank(_pick(rng, dec.height, n), rng, 0.3)
    c["PHOTO_SUPPLY"] = _blank(_pick(rng, dec.photo, n), rng, 0.4)

    c["ENERGY_TARIFF"] = ENERGY_TARIFF.draw(rng, n)
    c["MAINS_GAS_FLAG"] = YNB.draw(rng, n)
    c["MAIN_HEATING_CONTROLS"] = _blank(_ints(rng.choice(np.array([2104, 2105, 2106, 2107, 2110, 2111, 2401,
                                                                   2402, 2404, 2603]), n)), rng, 0.1)
    c["GLAZED_TYPE"] = GLAZED_TYPE.draw(rng, n)
    c["GLAZED_AREA"] = GLAZED_AREA.draw(rng, n)
    rooms = rng.integers(1, 9, n)
    c["EXTENSION_COUNT"] = _blank(_ints(rng.choice(np.array([0, 0, 0, 0, 1, 1, 2, 3]), n)), rng, 0.08)
    c["NUMBER_HABITABLE_ROOMS"] = _blank(_ints(rooms), rng, 0.05)
    c["NUMBER_HEATED_ROOMS"] = _blank(_ints(np.maximum(rooms - rng.choice(np.array([0, 0, 0, 1]), n), 0)), rng, 0.05)
    low_energy = rng.choice(np.array([0, 0, 10, 17, 25, 33, 40, 50, 60, 67, 75, 80, 83, 100, 100, 100, 100]), n)
    c["LOW_ENERGY_LIGHTING"] = _blank(_ints(low_energy), rng, 0.02)
    c["NUMBER_OPEN_FIREPLACES"] = _blank(_ints(rng.choice(np.array([0] * 12 + [1, 1, 2]), n)), rng, 0.03)
    c["WIND_TURBINE_COUNT"] = _blank(_ints(rng.choice(np.array([0] * 200 + [1]), n)), rng, 0.1)
    outlets = rng.integers(3, 40, n)
    newer = rng.random(n) < 0.4  # these two counts only exist on newer certificates
    c["FIXED_LIGHTING_OUTLETS_COUNT"] = _where(newer, _ints(outlets), "")
    c["LOW_ENERGY_FIXED_LIGHT_COUNT"] = _where(newer, _ints(outlets * low_energy // 100), "")

    # Element descriptions and their efficiency words (N/A when another dwelling is above/below).
    c["HOTWATER_DESCRIPTION"] = HOTWATER.draw(rng, n)
    c["FLOOR_DESCRIPTION"] = _where(below, _quote("(another dwelling below)"), FLOOR_DESC.draw(rng, n))
    c["WINDOWS_DESCRIPTION"] = WINDOWS.draw(rng, n)
    c["WALLS_DESCRIPTION"] = WALLS.draw(rng, n)
    c["SECONDHEAT_DESCRIPTION"] = SECONDHEAT.draw(rng, n)
    c["ROOF_DESCRIPTION"] = _where(above, _quote("(another dwelling above)"), ROOF.draw(rng, n))
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
            c[column] = _where(welsh, pool.draw(rng, n), c[column])
        c["ROOF_DESCRIPTION"] = _where(welsh & ~above, ROOF_CY.draw(rng, n), c["ROOF_DESCRIPTION"])
    for prefix in ("HOT_WATER", "WINDOWS", "WALLS", "MAINHEAT", "MAINHEATC", "LIGHTING"):
        for kind in ("ENERGY", "ENV"):
            c[f"{prefix}_{kind}_EFF"] = EFF_WORDS.draw(rng, n)
    floor_na = below | (rng.random(n) < 0.6)  # most floors are not rated
    roof_na = above
    for kind in ("ENERGY", "ENV"):
        c[f"FLOOR_{kind}_EFF"] = _where(floor_na, "N/A", EFF_WORDS.draw(rng, n))
        c[f"ROOF_{kind}_EFF"] = _where(roof_na, "N/A", EFF_WORDS.draw(rng, n))
        c[f"SHEATING_{kind}_EFF"] = _where(rng.random(n) < 0.97, "N/A", "")
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
    streets = _pick(rng, np.array(STREETS, dtype=object), n)
    street_lines = [f"{num} {street}" for num, street in zip(numbers.tolist(), streets)]
    flat_numbers = rng.integers(1, 60, n).tolist()
    buildings = _pick(rng, np.array(BUILDINGS, dtype=object), n)
    with_building = rng.random(n) < 0.3
    localities = _where(rng.random(n) < 0.25, _pick(rng, np.array(LOCALITIES, dtype=object), n), "")
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
    c["ADDRESS"] = np.array([_quote_fast(", ".join(p for p in parts if p))
                             for parts in zip(address1, address2, address3)], dtype=object)
    c["ADDRESS1"] = np.array([_quote_fast(a) for a in address1], dtype=object)
    c["ADDRESS2"] = np.array(address2, dtype=object)
    c["ADDRESS3"] = localities
    c["POSTCODE"] = _pick(rng, postcodes, n)
    c["POSTTOWN"] = towns
    c["BUILDING_REFERENCE_NUMBER"] = rng.integers(1_000_000_000, 10_000_000_000, n).astype(str).astype(object)
    c["LOCAL_AUTHORITY"] = np.full(n, code, dtype=object)
    c["CONSTITUENCY"] = np.full(n, constituency, dtype=object)
    c["COUNTY"] = _where(rng.random(n) < COUNTY_BLANK, "", _quote(county))
    c["LOCAL_AUTHORITY_LABEL"] = np.full(n, _quote(label), dtype=object)
    c["CONSTITUENCY_LABEL"] = np.full(n, _quote(constituency_label), dtype=object)
    has_uprn = rng.random(n) >= 0.08
    c["UPRN"] = _where(has_uprn, rng.integers(100_000_000_000, 1_000_000_000_000, n).astype(str), "")
    c["UPRN_SOURCE"] = _where(has_uprn, UPRN_SOURCE.draw(rng, n), "")
    return c


_IMPROVEMENT_CUMULATIVE = np.cumsum(IMPROVEMENT_WEIGHTS / IMPROVEMENT_WEIGHTS.sum())
_NEW_STYLE = np.array([f",,,{i},{_quote(text)},{_quote(cost)}" for i, text, cost in IMPROVEMENTS], dtype=object)
_OLD_STYLE = np.array([f",{_quote(s)},{_quote(d)},,," for s, d in OLD_SUMMARY], dtype=object)
_RECS_CUMULATIVE = np.cumsum(RECS_PER_CERTIFICATE / RECS_PER_CERTIFICATE.sum())


def _recommendation_chunk(rng: np.random.Generator, keys: np.ndarray) -> list[str]:
    """0-6 recommendation lines per certificate key, IMPROVEMENT_ITEM numbered 1..n within each certificate."""
    counts = np.searchsorted(_RECS_CUMULATIVE, rng.random(len(keys)), side="right")
    total = int(counts.sum())
    if not total:
        return []
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    items = np.arange(total) - starts + 1
    tails = _NEW_STYLE[np.searchsorted(_IMPROVEMENT_CUMULATIVE, rng.random(total), side="right")]
    old = rng.random(total) < OLD_STYLE_SHARE
    tails = _where(old, _pick(rng, _OLD_STYLE, total), tails)
    return [f"{k},{i}{t}" for k, i, t in zip(np.repeat(keys, counts), INTS[items], tails)]


# ---------------------------------------------------------------------------------------------------------------
# The dump


def default_authorities(target_mb: float) -> int:
    """About one folder per 10 MB, at least 3 (so every test sees an English, a Welsh and the unknown folder)."""
    return int(min(MAX_AUTHORITIES, 40, max(3, round(target_mb / 10))))


def _authority_list(count: int) -> list[Authority | None]:
    """The first ``count - 1`` authorities plus the unknown folder (None); a single folder is just Hartlepool."""
    if count < 1 or count > MAX_AUTHORITIES:
        raise ValueError(f"authorities must be between 1 and {MAX_AUTHORITIES}, got {count}")
    if count == 1:
        return [AUTHORITIES[0]]
    return [*AUTHORITIES[:count - 1], None]


CHUNK_ROWS = 4000


def start_dump(dest: Path, target_mb: float, authorities: int | None,
               seed: int) -> tuple[Path, list, np.random.Generator, _Decimals]:
    """What every layout's generator starts from: the folder (created), the authorities, the seeded set-up
    generator and the decimal formatter."""
    if target_mb <= 0:
        raise ValueError(f"target_mb must be positive, got {target_mb}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    chosen = _authority_list(authorities if authorities is not None else default_authorities(target_mb))
    setup = np.random.default_rng([seed, 0])
    return dest, chosen, setup, _Decimals(setup)


def generate_epc_dump(dest: Path, target_mb: float = 5.0, *, authorities: int | None = None,
                      seed: int = 42) -> GeneratedDump:
    """Write ``dest/domestic-<code>-<Name>/{certificates,recommendations}.csv`` totalling about ``target_mb``.

    ``authorities=None`` picks about one folder per 10 MB (3..40); folders get unequal shares, as real ones do
    (the unknown folder is small). Every folder gets at least one certificate. Existing files are overwritten.
    """
    dest, chosen, setup, decimals = start_dump(dest, target_mb, authorities, seed)
    weights = setup.lognormal(0.0, 0.5, len(chosen))
    if chosen[-1] is None and len(chosen) > 1:
        weights[-1] = weights[:-1].mean() * 0.1  # the unknown folder is a small one
    budgets = weights / weights.sum() * target_mb * 1_000_000

    files: list[Path] = []
    certificate_rows = recommendation_rows = total_bytes = 0
    bytes_per_certificate = 1500.0  # certificate line + its recommendation lines; re-estimated as we go
    for index, (authority, budget) in enumerate(zip(chosen, budgets)):
        rng = np.random.default_rng([seed, 1, index])
        postcodes = _postcodes(rng, authority)
        folder = dest / (authority.folder if authority is not None else UNKNOWN_FOLDER)
        folder.mkdir(parents=True, exist_ok=True)
        certificates, recommendations = folder / "certificates.csv", folder / "recommendations.csv"
        with open(certificates, "wb") as cert_out, open(recommendations, "wb") as rec_out:
            written = cert_out.write((",".join(CERTIFICATE_COLUMNS) + "\n").encode())
            written += rec_out.write((",".join(RECOMMENDATION_COLUMNS) + "\n").encode())
            rows = 0
            while rows == 0 or written < budget:
                n = max(1, min(CHUNK_ROWS, math.ceil((budget - written) / bytes_per_certificate)))
                lines, keys = _certificate_chunk(rng, n, certificate_rows, authority, postcodes, decimals)
                rec_lines = _recommendation_chunk(rng, keys)
                chunk_bytes = cert_out.write(("\n".join(lines) + "\n").encode())
                if rec_lines:
                    chunk_bytes += rec_out.write(("\n".join(rec_lines) + "\n").encode())
                written += chunk_bytes
                if n >= 200:  # small chunks are too noisy to learn the row size from
                    bytes_per_certificate = chunk_bytes / n
                rows += n
                certificate_rows += n
                recommendation_rows += len(rec_lines)
        total_bytes += written
        files += [certificates, recommendations]
    return GeneratedDump(dest, files, certificate_rows, recommendation_rows, total_bytes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m data_processor.sample_data",
        description="Write an EPC-like dump for demos, tests and benchmarks: one domestic-<ONS code>-<Name>/ "
        "folder per local authority, each with certificates.csv (the real 92 columns) and recommendations.csv "
        "(7 columns), with the real dump's value shapes and messiness. The same arguments write the same bytes.",
    )
    parser.add_argument("dest", type=Path, help="folder to write into (created if missing; files are overwritten)")
    parser.add_argument("--mb", type=float, default=20, help="total size of all CSV files in MB, ±10%% (default 20)")
    parser.add_argument("--authorities", type=int, default=None,
                        help=f"number of local-authority folders, 1..{MAX_AUTHORITIES} "
                        "(default: about one per 10 MB, at least 3)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--layout", choices=("legacy", "current"), default="legacy",
                        help="legacy: one folder per local authority, upper-case headers, LMK_KEY (default); "
                        "current: the service's per-year certificates-YYYY.csv and recommendations-YYYY.csv, "
                        "lower-case headers, certificate_number")
    parser.add_argument("--zip", action="store_true",
                        help="with --layout current: also write DEST/domestic-csv.zip holding the files")
    args = parser.parse_args(argv)
    if args.zip and args.layout != "current":
        parser.error("--zip needs --layout current")
    started = time.perf_counter()
    try:
        if args.layout == "current":
            from .sample_current import generate_current_dump

            dump = generate_current_dump(args.dest, args.mb, authorities=args.authorities, seed=args.seed,
                                         archive=args.zip)
        else:
            dump = generate_epc_dump(args.dest, args.mb, authorities=args.authorities, seed=args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    seconds = time.perf_counter() - started
    where = f"{len(dump.files) // 2} years" if args.layout == "current" else f"{len(dump.files) // 2} folders"
    print(f"wrote {dump.total_bytes / 1e6:.1f} MB in {where} under {dump.root}"
          f"{f' (and {dump.archive.name})' if dump.archive else ''}: "
          f"{dump.certificate_rows:,} certificates, {dump.recommendation_rows:,} recommendations "
          f"({seconds:.1f} s, {dump.total_bytes / 1e6 / max(seconds, 1e-9):.0f} MB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
