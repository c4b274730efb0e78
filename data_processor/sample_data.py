"""Generate an EPC-like dump: the real folder layout, the 92 certificate columns, the real messiness.

Tests, ``make run`` and the benchmark need realistic data and the real dump cannot be shipped. Values follow
``shared/EPC_SCHEMA.md``: 32-digit LMK keys, ratings with ``INVALID!``, integer-like columns with blanks,
decimals, ISO dates, 12-digit UPRNs, ``NO DATA!`` sentinels, the literal ``None`` and ``N/A`` as data, quoted
commas, ``£`` and ``²``, Welsh text and floor levels such as ``01``. Deterministic for a seed.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CERTIFICATE_COLUMNS = (
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
RECOMMENDATION_COLUMNS = ["LMK_KEY", "IMPROVEMENT_ITEM", "IMPROVEMENT_SUMMARY_TEXT", "IMPROVEMENT_DESCR_TEXT",
                          "IMPROVEMENT_ID", "IMPROVEMENT_ID_TEXT", "INDICATIVE_COST"]

AUTHORITIES = [
    ("E06000001", "Hartlepool"), ("E06000002", "Middlesbrough"), ("E06000003", "Redcar-and-Cleveland"),
    ("E06000010", "Kingston-upon-Hull-City-of"), ("W06000015", "Cardiff"), ("E07000211", "Reigate-and-Banstead"),
    ("E08000025", "Birmingham"), ("W06000011", "Swansea"), ("E09000033", "Westminster"), ("E06000023", "Bristol"),
]
RATINGS = ["A", "B", "C", "C", "D", "D", "D", "E", "E", "F", "G", "INVALID!"]
EFF = ["Very Good", "Good", "Average", "Poor", "Very Poor", "N/A"]
WALLS = ["Cavity wall, as built, insulated (assumed)", "Solid brick, as built, no insulation (assumed)",
         "Average thermal transmittance 0.13 W/m²K", "Waliau ceudod, ceudod wedi?i lenwi", "Timber frame, as built"]
SECOND_HEAT = ["None", "None", "Room heaters, electric", "Room heaters, mains gas", "Portable electric heaters"]
MAIN_HEAT = ["Boiler and radiators, mains gas", "Boiler and radiators, mains gas, Boiler and radiators, mains gas",
             "Electric storage heaters", "Air source heat pump, radiators, electric", "NO DATA!"]
FLOOR_LEVEL = ["Ground", "1st", "01", "00", "1.0", "mid floor", "top floor", "21st or above", "Basement", "NODATA!", ""]
AGE_BAND = ["England and Wales: 1930-1949", "England and Wales: 1967-1975", "England and Wales: 2012 onwards",
            "England and Wales: before 1900", "2015", "NO DATA!", "INVALID!"]
TRANSACTION = ["marketed sale", "rental (private)", "rental (social)", "new dwelling", "ECO assessment",
               "FiT application", "RHI application", "Stock Condition Survey", "none of the above"]
TENURE = ["owner-occupied", "Owner-occupied", "Rented (private)", "rental (social)", "unknown", "Not defined - use in "
          "the case of a new dwelling for which the intended tenure in not known. It is no"]
STREETS = ["High Street", "Station Road", "Church Lane", "Heol y Frenhines", "Park Avenue", "Mill Lane"]
TOWNS = ["HARTLEPOOL", "MIDDLESBROUGH", "REDCAR", "HULL", "CARDIFF", "REIGATE", "BIRMINGHAM", "SWANSEA", "LONDON"]
COSTS = ["£100 - £350", "£500 - £1,500", "£4,000 - £14,000", "£15 - £30", "£800 - £1,200"]
IMPROVEMENTS = [(1, "Insulate hot water cylinder with 80 mm jacket"), (5, "Increase loft insulation to 270 mm"),
                (6, "Cavity wall insulation"), (7, "Internal or external wall insulation"),
                (13, "Upgrade heating controls"), (34, "Solar photovoltaic panels, 2.5 kWp")]


@dataclass(frozen=True)
class GeneratedDump:
    root: Path
    files: list[Path]
    certificate_rows: int
    recommendation_rows: int
    total_bytes: int


def _pick(rng: np.random.Generator, pool: list[str], n: int) -> np.ndarray:
    return np.asarray(pool, dtype=object)[rng.integers(0, len(pool), n)]


def _ints(rng, n, low, high, blank=0.03) -> np.ndarray:
    values = rng.integers(low, high, n).astype(str).astype(object)
    values[rng.random(n) < blank] = ""
    return values


def _decimals(rng, n, low, high, scale, blank=0.02) -> np.ndarray:
    values = np.char.mod(f"%.{scale}f", rng.uniform(low, high, n)).astype(object)
    values[rng.random(n) < blank] = ""
    return values


def _dates(rng, n, with_time=False) -> np.ndarray:
    days = np.datetime64("2008-10-01") + rng.integers(0, 6000, n).astype("timedelta64[D]")
    if not with_time:
        return days.astype(str).astype(object)
    stamps = days.astype("datetime64[s]") + rng.integers(0, 86400, n).astype("timedelta64[s]")
    return np.char.replace(stamps.astype(str), "T", " ").astype(object)


def _certificates(rng: np.random.Generator, n: int, first_key: int, code: str, name: str) -> list[np.ndarray]:
    keys = np.array([str(first_key + i) for i in range(n)], dtype=object)
    number = rng.integers(1, 250, n).astype(str).astype(object)
    address1 = number + " " + _pick(rng, STREETS, n)
    address2 = _pick(rng, ["", "", "Flat 2", "Rose Cottage"], n)
    town = _pick(rng, TOWNS, n)
    postcode = _pick(rng, ["TS24 8AB", "TS1 2AA", "CF10 1AA", "B1 1AA", "SW1A 1AA", "RH2 0SH"], n)
    uprn = rng.integers(100_000_000_000, 999_999_999_999, n).astype(str).astype(object)
    uprn[rng.random(n) < 0.05] = ""
    address = np.where(address2 == "", address1 + ", " + town, address1 + ", " + address2 + ", " + town)
    return [
        keys, address1, address2, _pick(rng, ["", "", "", "Lower Town"], n), postcode,
        _ints(rng, n, 1_000_000_000, 9_999_999_999, 0), _pick(rng, RATINGS, n), _pick(rng, RATINGS[:-1], n),
        _ints(rng, n, 1, 101), _ints(rng, n, 1, 101), _pick(rng, ["House", "Flat", "Bungalow", "Maisonette"], n),
        _pick(rng, ["Detached", "Semi-Detached", "Mid-Terrace", "End-Terrace", "NO DATA!"], n), _dates(rng, n),
        np.full(n, code, dtype=object), _pick(rng, ["E14001442", "W07000050", "E14000733"], n),
        _pick(rng, ["", "Cleveland", "South Glamorgan"], n), _dates(rng, n), _pick(rng, TRANSACTION, n),
        _ints(rng, n, 1, 101), _ints(rng, n, 1, 101), _ints(rng, n, 20, 900, 0), _ints(rng, n, 20, 700, 0),
        _decimals(rng, n, 0.5, 15, 1), _ints(rng, n, 5, 120), _decimals(rng, n, 0.5, 12, 1),
        *(_decimals(rng, n, 20, 2000, 2) for _ in range(6)), _decimals(rng, n, 25, 400, 2, 0),
        _pick(rng, ["Single", "dual", "off-peak 7 hour", "24 hour", "Unknown"], n), _pick(rng, ["Y", "N", ""], n),
        _pick(rng, FLOOR_LEVEL, n), _pick(rng, ["Y", "N", ""], n), _ints(rng, n, 1, 20, 0.7),
        _ints(rng, n, 2100, 2800), _ints(rng, n, 0, 101), _pick(rng, ["double glazing installed before 2002",
                                                                      "double glazing, unknown install date",
                                                                      "NO DATA!", "triple glazing"], n),
        _pick(rng, ["Normal", "More Than Typical", "Less Than Typical", "NO DATA!"], n),
        _ints(rng, n, 0, 4), _ints(rng, n, 1, 10), _ints(rng, n, 1, 10), _ints(rng, n, 0, 101),
        _ints(rng, n, 0, 3), _pick(rng, ["From main system", "Electric immersion, off-peak"], n),
        _pick(rng, EFF, n), _pick(rng, EFF, n), _pick(rng, ["Suspended, no insulation (assumed)",
                                                              "(another dwelling below)", "Solid, insulated"], n),
        _pick(rng, EFF, n), _pick(rng, EFF, n), _pick(rng, ["Fully double glazed", "Partial double glazing"], n),
        _pick(rng, EFF, n), _pick(rng, EFF, n), _pick(rng, WALLS, n), _pick(rng, EFF, n), _pick(rng, EFF, n),
        _pick(rng, SECOND_HEAT, n), _pick(rng, EFF, n), _pick(rng, EFF, n),
        _pick(rng, ["Pitched, 270 mm loft insulation", "(another dwelling above)", "Flat, limited insulation"], n),
        _pick(rng, EFF, n), _pick(rng, EFF, n), _pick(rng, MAIN_HEAT, n), _pick(rng, EFF, n), _pick(rng, EFF, n),
        _pick(rng, ["Programmer, room thermostat and TRVs", "%%MAINHEATCONTROL%%", "No time or thermostatic control"], n),
        _pick(rng, EFF, n), _pick(rng, EFF, n), _pick(rng, ["Low energy lighting in 50% of fixed outlets",
                                                              "Low energy lighting in all fixed outlets"], n),
        _pick(rng, EFF, n), _pick(rng, EFF, n),
        _pick(rng, ["mains gas (not community)", "electricity (not community)", "NO DATA!"], n),
        _ints(rng, n, 0, 2, 0.1), _pick(rng, ["unheated corridor", "no corridor", "NO DATA!", ""], n),
        _decimals(rng, n, 1, 20, 1, 0.8), _decimals(rng, n, 2.2, 3.1, 2, 0.2), _ints(rng, n, 0, 60, 0.3),
        _pick(rng, ["Y", "N", ""], n), _pick(rng, ["natural", "mechanical, extract only", "NO DATA!"], n),
        address, np.full(n, name.replace("-", " "), dtype=object),
        _pick(rng, ["Hartlepool", "Cardiff Central", "Reigate"], n), town, _pick(rng, AGE_BAND, n),
        _dates(rng, n, with_time=True), _pick(rng, TENURE, n), _ints(rng, n, 0, 40, 0.4), _ints(rng, n, 0, 40, 0.4),
        uprn, _pick(rng, ["Address Matched", "Energy Assessor", ""], n),
    ]


def _write(path: Path, header: list[str], columns: list[np.ndarray]) -> int:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(zip(*columns))
    return path.stat().st_size


def generate_epc_dump(dest: Path, target_mb: float = 5.0, *, authorities: int | None = None,
                      seed: int = 42) -> GeneratedDump:
    """Write ``dest/domestic-<code>-<Name>/{certificates,recommendations}.csv`` totalling about ``target_mb``."""
    rng = np.random.default_rng(seed)
    dest = Path(dest)
    count = authorities or int(min(40, max(3, target_mb // 10)))
    per_folder = target_mb * 1e6 / count
    cert_rows_each = max(1, int(per_folder * 0.85 / 1000))  # a certificate row is about 1 kB
    files, cert_rows, rec_rows, total = [], 0, 0, 0
    first_key = 89931970062019053113040836250130
    for index in range(count):
        code, name = AUTHORITIES[index % len(AUTHORITIES)]
        if index >= len(AUTHORITIES):
            code = f"{code[:3]}{int(code[3:]) + index:06d}"
        folder = dest / f"domestic-{code}-{name}"
        if index == count - 1 and count > 3:
            folder = dest / "domestic-_unknown_local_authority--Unknown-Local-Authority-"
        folder.mkdir(parents=True, exist_ok=True)
        columns = _certificates(rng, cert_rows_each, first_key + cert_rows, code, name)
        total += _write(folder / "certificates.csv", CERTIFICATE_COLUMNS, columns)
        per_cert = rng.integers(0, 4, cert_rows_each)
        keys = np.repeat(columns[0], per_cert)
        items = np.concatenate([np.arange(1, k + 1) for k in per_cert]).astype(str) if len(keys) else keys
        chosen = rng.integers(0, len(IMPROVEMENTS), len(keys))
        ids = np.array([str(IMPROVEMENTS[i][0]) for i in chosen], dtype=object)
        texts = np.array([IMPROVEMENTS[i][1] for i in chosen], dtype=object)
        recs = [keys, items, texts, texts, ids, texts, _pick(rng, COSTS, len(keys))]
        total += _write(folder / "recommendations.csv", RECOMMENDATION_COLUMNS, recs)
        files += [folder / "certificates.csv", folder / "recommendations.csv"]
        cert_rows += cert_rows_each
        rec_rows += len(keys)
    return GeneratedDump(dest, files, cert_rows, rec_rows, total)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write an EPC-like dump (certificates.csv and "
                                     "recommendations.csv per local-authority folder) for demos, tests and benchmarks.")
    parser.add_argument("dest", type=Path, help="folder to write into (created if missing)")
    parser.add_argument("--mb", type=float, default=20, help="approximate total size in MB (default 20)")
    parser.add_argument("--authorities", type=int, default=None, help="number of local-authority folders")
    parser.add_argument("--seed", type=int, default=42, help="random seed; the same seed writes the same bytes")
    args = parser.parse_args()
    dump = generate_epc_dump(args.dest, args.mb, authorities=args.authorities, seed=args.seed)
    print(f"wrote {len(dump.files)} files, {dump.certificate_rows:,} certificates, "
          f"{dump.recommendation_rows:,} recommendations, {dump.total_bytes / 1e6:.1f} MB into {dump.root}")


if __name__ == "__main__":
    main()
